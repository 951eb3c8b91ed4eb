"""Language resources, beside the CTC decoders that use them (numpy only).

  lexicon.py     Lexicon: a word trie with priors and spellings
  ngrams.py      character and word n-gram models
  wordlists.py   general English word lists (wordfreq), text sampling
  defaults.py    the lexicon, LM and priors a reader uses by default for a model
"""
