"""Train or evaluate an hwr-jax model.

  python launch.py --config=configs/balanced.py --workdir=runs/balanced
  python launch.py --config=configs/balanced.py --workdir=runs/balanced --mode=evaluate
  python launch.py --config=configs/iam_words.py --workdir=runs/iam --mode=evaluate \
      --config.words.path=IAM_FOLDER --decoders=best_path,lexicon
  python launch.py --config=configs/dev_byclass.py --workdir=runs/dev --config.num_epochs=2
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from hwr_jax import runtime

FLAGS = flags.FLAGS
# Exit status of a run stopped early by SIGTERM or Ctrl-C after saving (it
# resumes): EX_TEMPFAIL of sysexits.h, "try again later".
EXIT_STOPPED = 75
config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Checkpoints, logs, metrics and plots; "
                    "training resumes when it holds a checkpoint.")
flags.DEFINE_enum("mode", "train", ["train", "evaluate"],
                  "train (then evaluate the best checkpoint) or evaluate only.")
flags.DEFINE_string("checkpoint", "best", "evaluate: 'best', 'latest' or a step number.")
flags.DEFINE_enum("split", "test", ["test", "validation"], "evaluate: which split.")
flags.DEFINE_list("decoders", [], "evaluate a word model: CTC decoders (default: every "
                  "decoder that fits its charset).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = FLAGS.config
  if not FLAGS["verbosity"].present:  # keep library INFO chatter (orbax) out
    logging.set_verbosity(logging.WARNING)
  try:
    runtime.setup(config)
  except runtime.DistributedSetupError as e:
    print(f"\nerror: {e}", file=sys.stderr)
    sys.exit(1)
  # Imported after the runtime setup, which must precede any JAX computation.
  from hwr_jax import evaluators, training
  from hwr_jax.checkpoints import (CheckpointMismatchError, CheckpointSaveError,
                                   ModelLoadError)
  from hwr_jax.data.errors import DataError
  from hwr_jax.evaluators.text import EvaluationError
  try:
    if FLAGS.decoders and config.get("task") not in ("words", "ink"):
      raise app.UsageError("--decoders: only word and ink readers decode text.")
    if FLAGS.mode == "train":
      training.train_and_evaluate(config, FLAGS.workdir)
    else:
      evaluators.evaluate(config, FLAGS.workdir, FLAGS.checkpoint, FLAGS.split,
                          FLAGS.decoders or None)
  except (DataError, CheckpointMismatchError, ModelLoadError, CheckpointSaveError,
          EvaluationError, training.TrainingDivergedError, FileNotFoundError) as e:
    # Expected failures: say what happened and what to do, without a traceback.
    print(f"\nerror: {e}", file=sys.stderr)
    sys.exit(1)
  except training.Preempted as e:
    print(f"\n{e}", file=sys.stderr)
    sys.exit(EXIT_STOPPED)
  except KeyboardInterrupt:
    print("\nInterrupted. Run the same command again to resume from the last "
          "checkpoint (saved at the end of every epoch).", file=sys.stderr)
    sys.exit(130)


if __name__ == "__main__":
  app.run(main)
