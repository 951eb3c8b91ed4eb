"""Training: one loop (`trainer.py`) that every task runs.

  optimizer.py    Adam / AdamW, schedules, gradient clipping; the train state
  loop.py         the epoch loop, divergence checks
  run.py          a run in a workdir: resume, checkpoint per epoch, stop on SIGTERM
  trainer.py      train_and_evaluate(task, workdir)
  classifier.py   the character classifiers (a task)
  words.py        the CRNN word reader (a task)
  ink.py          the ink reader, lines of pen strokes (a task)
"""

from hwr_jax.training.loop import TrainingDivergedError  # noqa: F401
from hwr_jax.training.run import Preempted  # noqa: F401


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains the task `config` names (`config.task`: 'words' for a word
  reader, 'ink' for an ink reader, else a character classifier), then
  evaluates its best checkpoint."""
  if config.get("task") == "ink":
    from hwr_jax.training import ink
    return ink.train_and_evaluate(config, workdir)
  if config.get("task") == "words":
    from hwr_jax.training import words
    return words.train_and_evaluate(config, workdir)
  from hwr_jax.training import classifier
  return classifier.train_and_evaluate(config, workdir)
