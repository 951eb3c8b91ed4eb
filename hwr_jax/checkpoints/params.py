"""The parameters of one checkpoint step, for prediction (`inference.py`)."""

import os

from hwr_jax.checkpoints.errors import CheckpointDamagedError, short
from hwr_jax.checkpoints.step import read_arrays, read_meta
from hwr_jax.checkpoints.workdir import kept_steps


def restore_params(path: str) -> tuple[dict, dict]:
  """(params as numpy arrays, meta) of one checkpoint folder; a damaged one
  raises CheckpointDamagedError naming it and what to do."""
  try:
    meta = read_meta(path)
    restored = read_arrays(path, meta)
  except Exception as e:   # noqa: BLE001 (orbax raises many kinds for damaged files)
    workdir = path.rsplit(os.sep + "checkpoints" + os.sep, 1)[0]
    others = [s.step for s in kept_steps(workdir) if s.path != path]
    raise CheckpointDamagedError(
        f"The checkpoint {path} is damaged and was not used ({short(e)}). Read another "
        f"one with --checkpoint=latest or a step number (kept: {others or 'none'}), or "
        "train again.") from None
  return restored["params"], meta
