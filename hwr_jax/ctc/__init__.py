"""CTC decoding on (T, C) probability matrices (numpy; numba for the loops).

  decoders.py      matrix checks, best path, prefix beam search, CTC scores
  guides.py        language resources (`hwr_jax/language/`) as search tables
  dictionary.py    dictionary words, token passing, word beam search for lines
  compiled.py      the numba loops
  text_decoder.py  TextDecoder: every decoder by name, over a charset
"""
