"""Checkpoints with orbax: the latest epochs (to resume) and the best by
validation score (to evaluate and read with), each with the config that made
them. Training saves and restores whole train states (`CheckpointStore`);
prediction reads only the parameters of one step (`restore_params`).

workdir/checkpoints/latest/<step>/   kept: the last 2
workdir/checkpoints/best/<step>/     kept: 1
"""

import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

# Config keys that may change between a run and its resumption.
RESUMABLE_CHANGES = ("num_epochs", "log_every_steps", "eval_batch_size",
                     "data.nist_dir", "data.mnist_dir", "data.download",
                     "data.tfds_data_dir", "data.train_images",
                     "data.train_labels", "data.test_images", "data.test_labels",
                     "distributed")
KINDS = ("best", "latest")
# Keys that decide whether a checkpoint's weights fit a model at all.
MODEL_KEYS = ("model", "data.label_space")


class CheckpointMismatchError(ValueError):
  """A checkpoint was written under a config that does not fit this one."""


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = v
  return out


def config_differences(saved: dict, current: dict, keys=None) -> list[str]:
  """Lines `key: saved -> current` for keys that differ (limited to `keys`
  prefixes). Settings the saved config lacks are not differences: they were
  added to the code later, with defaults that keep the earlier behaviour."""
  a, b = _flatten(saved), _flatten(current)
  diffs = []
  for key in sorted(a):
    if keys is not None and not any(key == k or key.startswith(k + ".") for k in keys):
      continue
    if keys is None and any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
      continue
    if json.dumps(a.get(key)) != json.dumps(b.get(key)):
      diffs.append(f"  {key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
  return diffs


def _state_tree(state) -> dict:
  return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


class CheckpointStore:
  """Saves and restores train states under `workdir/checkpoints`."""

  def __init__(self, workdir: str, config_dict: dict):
    self.config = json.loads(json.dumps(config_dict))  # plain JSON types
    root = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self.latest = ocp.CheckpointManager(
        os.path.join(root, "latest"),
        options=ocp.CheckpointManagerOptions(max_to_keep=2, create=True))
    self.best = ocp.CheckpointManager(
        os.path.join(root, "best"),
        options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True))

  def save(self, state, meta: dict, is_best: bool) -> None:
    step = int(jax.device_get(state.step))
    meta = dict(meta, config=self.config)
    args = lambda: ocp.args.Composite(state=ocp.args.StandardSave(_state_tree(state)),
                                      meta=ocp.args.JsonSave(meta))
    self.latest.save(step, args=args())
    if is_best:
      self.best.save(step, args=args())

  def wait(self) -> None:
    self.latest.wait_until_finished()
    self.best.wait_until_finished()

  def _manager(self, which: str):
    return self.best if which == "best" else self.latest

  def read_meta(self, which: str = "latest", step: int | None = None) -> dict | None:
    manager = self._manager(which)
    step = manager.latest_step() if step is None else step
    if step is None:
      return None
    return manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]

  def restore(self, state, which: str = "latest", step: int | None = None,
              model_only: bool = False):
    """Returns (state filled from the checkpoint, its meta), or (state, None)
    when there is none. Refuses a checkpoint of another config."""
    manager = self._manager(which)
    step = manager.latest_step() if step is None else step
    if step is None:
      return state, None
    meta = self.read_meta(which, step)
    diffs = config_differences(meta["config"], self.config,
                               keys=MODEL_KEYS if model_only else None)
    if diffs:
      raise CheckpointMismatchError(
          f"The checkpoint in {manager.directory}/{step} was written with another "
          f"config; these settings differ (checkpoint -> now):\n" + "\n".join(diffs) +
          "\nUse a new --workdir for a new experiment, or run with the config that "
          "wrote this checkpoint.")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _state_tree(state))
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract)))["state"]
    return state.replace(**restored), meta

  def close(self) -> None:
    self.latest.close()
    self.best.close()


def save_workdir_config(workdir: str, config) -> None:
  """Writes the run's config to `workdir/config.json` (main host only)."""
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))


def load_workdir_config(workdir: str):
  """The ConfigDict a run wrote to `workdir/config.json`, or None if absent."""
  import ml_collections
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


# -- reading one checkpoint for prediction (inference.py) -------------------

class ModelLoadError(ValueError):
  """A workdir holds no model that can be loaded, or not the kind asked for."""


def find_checkpoint(workdir: str, checkpoint: str = "best") -> tuple[str, int]:
  """(folder, step) of the workdir's 'best' or 'latest' checkpoint, or of
  the kept checkpoint of step `checkpoint` (either kind). Reads the folder
  listing only (no orbax manager, which would create folders)."""
  root = os.path.join(os.path.abspath(workdir), "checkpoints")
  if checkpoint not in KINDS and not str(checkpoint).isdigit():
    raise ModelLoadError(f"--checkpoint must be 'best', 'latest' or a step number, "
                         f"not {checkpoint!r}.")
  found = {}
  for kind in [checkpoint] if checkpoint in KINDS else KINDS:
    folder = os.path.join(root, kind)
    # Finished orbax steps are plain numbers; an unfinished save has a suffix.
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
      if name.isdigit():
        found.setdefault(int(name), os.path.join(folder, name))
  if checkpoint in KINDS:
    if not found:
      raise ModelLoadError(f"No {checkpoint} checkpoint in {root}. Train first: "
                           f"python launch.py --config=... --workdir={workdir}")
    step = max(found)
  else:
    step = int(checkpoint)
    if step not in found:
      raise ModelLoadError(f"No checkpoint of step {step} in {root}; kept steps: "
                           f"{sorted(found) or 'none'}.")
  return found[step], step


def restore_params(path: str) -> tuple[dict, dict]:
  """(params as numpy arrays, meta) of one checkpoint folder. The shapes come
  from the checkpoint's own metadata, so nothing is traced or compiled; the
  optimizer state is not read."""
  from etils import epath
  tree = ocp.PyTreeCheckpointHandler().metadata(epath.Path(path) / "state").tree
  if "params" not in tree:
    raise ModelLoadError(f"{path} holds no model parameters.")
  abstract = {"params": jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype),
                                     tree["params"])}
  as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), abstract)
  restored = ocp.Checkpointer(ocp.CompositeCheckpointHandler()).restore(
      path, args=ocp.args.Composite(
          meta=ocp.args.JsonRestore(),
          state=ocp.args.PyTreeRestore(item=abstract, restore_args=as_numpy,
                                       partial_restore=True)))
  return restored["state"]["params"], restored["meta"]
