"""Training the ink reader (lines of pen strokes) with CTC: the word reader's
task (`words.py`) with lines of ink as its data (`data/ink_sources.py`),
distorted on the device in the train step, and evaluated on IAM-OnDB's
testset_f (or a folder's validation lines) at the end (`WordTask.evaluate`)."""

import functools

from hwr_jax import inference
from hwr_jax.data import ink_sources, vocabulary
from hwr_jax.preprocess.ink import InkGeometry
from hwr_jax.training import trainer
from hwr_jax.training.words import WordTask, train_step


class InkTask(WordTask):
  """An ink reader on the lines of `ink_sources.InkLines(config)`."""
  unit = "lines"

  def __init__(self, config):
    super().__init__(config, data=ink_sources.InkLines(config))
    self.train_step = functools.partial(train_step, seed=config.seed,
                                        augment_ink=config.ink.get("augment", True))

  def probabilities(self, probs_fn, points, mesh) -> list:
    return inference.ink_probabilities(probs_fn, points, InkGeometry.of(self.config),
                                       self.config.eval_batch_size, mesh)

  def write_files(self, workdir: str) -> None:
    """The training words (the reader's lexicon) and the training lines a
    language model may hold (`ink_sources.language_lines`)."""
    vocabulary.write(workdir, self.data.training_vocabulary())
    lines, what = ink_sources.language_lines(self.config, self.data.train[1])
    vocabulary.write_lm_lines(workdir, lines)
    print(f"{len(lines)} training lines for language models ({what})")

  def describe(self) -> str:
    return (f"{self.config.ink.source} lines of ink, {len(self.charset)} characters, "
            f"{len(self.data.validation[0]):,} validation lines")


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint), then
  evaluates the best checkpoint; returns the evaluation's results."""
  return trainer.train_and_evaluate(InkTask(config), workdir)
