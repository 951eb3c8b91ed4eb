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

# The rest on first use: orbax (store, params, step) takes a third of a second
# to import, which a reader of a shipped model (no orbax checkpoint) never needs.
_LAZY = {
    "restore_params": "params", "tree_sha256": "step", "KEEP_LATEST": "store",
    "CheckpointStore": "store", "DAMAGED": "workdir", "MODEL_KEYS": "workdir",
    "RESUMABLE_CHANGES": "workdir", "Step": "workdir", "best_of": "workdir",
    "config_differences": "workdir", "find_checkpoint": "workdir", "kept_steps": "workdir",
    "load_workdir_config": "workdir", "save_workdir_config": "workdir",
}


def __getattr__(name):
  if name in _LAZY:
    import importlib
    return getattr(importlib.import_module(f"hwr_jax.checkpoints.{_LAZY[name]}"), name)
  raise AttributeError(f"module 'hwr_jax.checkpoints' has no attribute {name!r}")
