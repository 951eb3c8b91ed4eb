"""A workdir's checkpoints (orbax), as a small package:

  store.py     training: save each epoch, resume from the newest intact step
  params.py    prediction: the parameters of one step
  step.py      one step folder: its meta (no arrays) and its checked arrays
  workdir.py   config.json, the kept steps and their scores, config differences
  quiet.py     orbax's and asyncio's noise about a failed read or write, dropped
  exported.py  a model as plain files for shipping: safetensors weights, sha256 sums
  errors.py    what can go wrong, as exception types
"""

from hwr_jax.checkpoints.errors import (CheckpointDamagedError,  # noqa: F401
                                        CheckpointMismatchError, CheckpointSaveError,
                                        ModelLoadError)
from hwr_jax.checkpoints.exported import is_exported, read_exported  # noqa: F401
from hwr_jax.checkpoints.params import restore_params  # noqa: F401
from hwr_jax.checkpoints.step import tree_sha256  # noqa: F401
from hwr_jax.checkpoints.store import KEEP_LATEST, CheckpointStore  # noqa: F401
from hwr_jax.checkpoints.workdir import (DAMAGED, MODEL_KEYS, RESUMABLE_CHANGES,  # noqa: F401
                                         Step, best_of, config_differences, find_checkpoint,
                                         kept_steps, load_workdir_config, save_workdir_config)
