"""CTC decoding on (T, C) probability matrices: best path, prefix beam search,
beam search with a character language model, lexicon-constrained decoding,
and the CTC probability of a given text."""
