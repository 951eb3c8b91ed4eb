"""Evaluators, apart from training: each reads a checkpoint and a split and
writes its results to the workdir. Training calls them at its end; so do
`launch.py --mode=evaluate` and the experiments.

  classification.py   character classifiers: accuracy, top-5, macro F1, ROC-AUC
  text.py             word and ink readers: CER / WER per CTC decoder, per kind of word
  plots.py            training curves and confusion matrices
"""


def evaluate(config, workdir: str, checkpoint: str = "best", split: str = "test",
             decoders=None) -> dict:
  """Evaluates a checkpoint of the task `config` names (a word or ink reader
  with each of `decoders`; a character classifier)."""
  if config.get("task") in ("words", "ink"):
    from hwr_jax.evaluators import text
    return text.evaluate_checkpoint(config, workdir, checkpoint, split, decoders)
  from hwr_jax.evaluators import classification
  return classification.evaluate_checkpoint(config, workdir, checkpoint, split)
