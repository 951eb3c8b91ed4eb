"""What can go wrong with a workdir's checkpoints, as exception types."""


class CheckpointMismatchError(ValueError):
  """A checkpoint was written under a config that does not fit this one."""


class ModelLoadError(ValueError):
  """A workdir holds no model that can be loaded, or not the kind asked for."""


class CheckpointDamagedError(ModelLoadError):
  """A checkpoint cannot be read, or its weights are not the ones saved."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint could not be written (disk full, read-only folder, ...)."""


def short(error: Exception) -> str:
  """One line: the error's type, its start and its end (where the OS reason is)."""
  text = " ".join(str(error).split())
  if len(text) > 300:
    text = f"{text[:120]} ... {text[-160:]}"
  return f"{type(error).__name__}: {text}"
