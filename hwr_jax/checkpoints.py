"""Checkpoints with orbax: one manager, one save per epoch, each step with the
config that made it, its validation score and checksums of its weights.

workdir/checkpoints/<step>/        kept: the newest 2 and the best by score
workdir/checkpoints-damaged/<step> steps found damaged on resume, set aside

Training saves and restores whole train states (`CheckpointStore`): it
resumes from the newest *intact* step, and says which it skipped and why.
Prediction reads the parameters of one step (`find_checkpoint`,
`restore_params`) and refuses a damaged one with one short message. A
damaged step is one orbax cannot read (its CRC checks, a truncated or
missing file) or whose weights do not match the sha256 saved with them.

Workdirs of earlier versions (`checkpoints/latest/<step>`,
`checkpoints/best/<step>`) are read until the first new save.
"""

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import traceback

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as keep

# Config keys that may change between a run and its resumption.
RESUMABLE_CHANGES = ("num_epochs", "log_every_steps", "eval_batch_size",
                     "data.nist_dir", "data.mnist_dir", "data.download",
                     "data.tfds_data_dir", "data.train_images",
                     "data.train_labels", "data.test_images", "data.test_labels",
                     "distributed", "coordinator_address", "num_processes",
                     "process_id", "stop_on_divergence")
KINDS = ("best", "latest")
# Keys that decide whether a checkpoint's weights fit a model at all.
MODEL_KEYS = ("model", "data.label_space")
KEEP_LATEST = 2
DAMAGED = "checkpoints-damaged"


class CheckpointMismatchError(ValueError):
  """A checkpoint was written under a config that does not fit this one."""


class ModelLoadError(ValueError):
  """A workdir holds no model that can be loaded, or not the kind asked for."""


class CheckpointDamagedError(ModelLoadError):
  """A checkpoint cannot be read, or its weights are not the ones saved."""


class CheckpointSaveError(RuntimeError):
  """A checkpoint could not be written (disk full, read-only folder, ...)."""


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


def tree_sha256(tree) -> str:
  """sha256 of a tree of arrays (keys in order, each leaf's dtype, shape and
  bytes). Reads each leaf's local copy, so replicated multi-host arrays work."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if isinstance(leaf, jax.Array):
      leaf = leaf.addressable_data(0)
    leaf = np.ascontiguousarray(leaf)
    digest.update(f"{jax.tree_util.keystr(path)}:{leaf.dtype}:{leaf.shape};".encode())
    digest.update(leaf.tobytes())
  return digest.hexdigest()


def _state_tree(state) -> dict:
  return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


# -- the steps a workdir keeps (a folder listing: creates nothing) ------------

@dataclasses.dataclass
class Step:
  step: int
  path: str
  score: float | None   # validation score, larger = better; None: not scored


def _read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _scored(path: str) -> float | None:
  metrics = _read_json(os.path.join(path, "metrics", "metrics"))
  if not isinstance(metrics, dict) or not isinstance(metrics.get("score"), (int, float)):
    return None
  return metrics["score"] if metrics.get("higher_is_better", True) else -metrics["score"]


def kept_steps(workdir: str) -> list[Step]:
  """The finished checkpoint steps of a workdir, oldest first. Orbax writes a
  step into a temporary folder and renames it when complete, so a half-written
  step (its name has a suffix) is never listed."""
  root = os.path.join(os.path.abspath(workdir), "checkpoints")
  names = os.listdir(root) if os.path.isdir(root) else []
  steps = [Step(int(n), os.path.join(root, n), _scored(os.path.join(root, n)))
           for n in names if n.isdigit()]
  if not steps:   # the earlier layout: latest/<step> and best/<step>
    found: dict[int, Step] = {}
    for kind in ("latest", "best"):
      folder = os.path.join(root, kind)
      for n in os.listdir(folder) if os.path.isdir(folder) else []:
        if n.isdigit():
          step = found.setdefault(int(n), Step(int(n), os.path.join(folder, n), None))
          if kind == "best":
            step.score = 0.0   # (the only scored step of that layout)
    steps = list(found.values())
  return sorted(steps, key=lambda s: s.step)


def best_of(steps: list[Step]) -> Step | None:
  scored = [s for s in steps if s.score is not None]
  return max(scored, key=lambda s: (s.score, s.step)) if scored else None


def _is_loop_noise(error) -> bool:
  return isinstance(error, RuntimeError) and str(error) == "Event loop is closed"


class _OrbaxErrorFilter(logging.Filter):
  """Drops the ERROR records of a failed orbax read or write: orbax's own
  (it logs its whole traceback) and asyncio's "Task exception was never
  retrieved" for each of orbax's write tasks (logged when they are garbage
  collected, often at exit). The same error reaches the caller, which reports
  it once."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno < logging.ERROR:
      return True
    if "orbax" in record.pathname:
      return False
    tb = record.exc_info[2] if record.exc_info else None
    return not any("orbax" in frame.f_code.co_filename
                   for frame, _ in traceback.walk_tb(tb))


def _drop_background_noise() -> None:
  """After a failed read or write, tensorstore's pending callbacks hit
  orbax's closed event loop and print one 'Event loop is closed' traceback
  each (dozens, at any later time), and orbax logs each failure with its
  traceback. Drops exactly those; everything else is printed as before."""
  if getattr(sys.excepthook, "hwr_jax", False):
    return
  excepthook, unraisablehook = sys.excepthook, sys.unraisablehook

  def on_exception(kind, value, tb):
    if not _is_loop_noise(value):
      excepthook(kind, value, tb)

  def on_unraisable(info):
    if not _is_loop_noise(info.exc_value):
      unraisablehook(info)
  on_exception.hwr_jax = True
  sys.excepthook, sys.unraisablehook = on_exception, on_unraisable
  for name in ("absl", "asyncio"):
    logging.getLogger(name).addFilter(_OrbaxErrorFilter())


@contextlib.contextmanager
def _quiet():
  """Silences what orbax and asyncio log from a failing read (dozens of
  tracebacks from background tasks); the caller reports the error once."""
  _drop_background_noise()
  loggers = [logging.getLogger(n) for n in ("absl", "asyncio", "orbax", "jax")]
  levels = [l.level for l in loggers]
  for l in loggers:
    l.setLevel(logging.CRITICAL)
  try:
    yield
  finally:
    for l, level in zip(loggers, levels):
      l.setLevel(level)


def _short(error: Exception) -> str:
  """One line: the error's type, its start and its end (where the OS reason is)."""
  text = " ".join(str(error).split())
  if len(text) > 300:
    text = f"{text[:120]} ... {text[-160:]}"
  return f"{type(error).__name__}: {text}"


def _read(path: str, state=None, params_only: bool = False) -> tuple[dict, dict]:
  """(restored tree, meta) of one step folder, checked against the sha256 in
  its meta. `state`: restore the whole train state like it (training);
  `params_only`: numpy params, shapes from the checkpoint's own metadata
  (prediction: nothing traced or compiled, the optimizer state not read)."""
  from etils import epath
  checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
  with _quiet():
    meta = checkpointer.restore(path, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    if params_only:
      tree = ocp.PyTreeCheckpointHandler().metadata(epath.Path(path) / "state").tree
      if "params" not in tree:
        raise CheckpointDamagedError(f"{path} holds no model parameters.")
      abstract = {"params": jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype),
                                         tree["params"])}
      as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), abstract)
      args = ocp.args.PyTreeRestore(item=abstract, restore_args=as_numpy, partial_restore=True)
    else:
      # Restored straight into the training layout: replicated over every
      # device of every process (a host-local array cannot be moved there).
      from hwr_jax import parallel
      replicated = parallel.replicated(parallel.make_mesh())
      abstract = jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(np.shape(x), np.result_type(x), sharding=replicated),
          _state_tree(state))
      args = ocp.args.StandardRestore(abstract)
    restored = checkpointer.restore(path, args=ocp.args.Composite(state=args))["state"]
  expected = (meta.get("sha256") or {}).get("params")
  if expected and tree_sha256(restored["params"]) != expected:
    raise CheckpointDamagedError("its weights do not match the sha256 saved with them")
  return restored, meta


class CheckpointStore:
  """Saves and restores train states under `workdir/checkpoints`: one orbax
  manager keeps the newest KEEP_LATEST steps and the step with the best
  validation score (one save per epoch: on many hosts, every process makes
  the same single collective save)."""

  def __init__(self, workdir: str, config_dict: dict, higher_is_better: bool = True):
    self.workdir = os.path.abspath(workdir)
    self.root = os.path.join(self.workdir, "checkpoints")
    self.config = json.loads(json.dumps(config_dict))  # plain JSON types
    self.higher_is_better = higher_is_better
    self.skipped: list[str] = []   # damaged steps set aside by restore()
    self.last_saved_step: int | None = None
    self._manager = None
    _drop_background_noise()

  @property
  def manager(self) -> ocp.CheckpointManager:
    if self._manager is None:   # created on first save, after restore set damage aside
      score = lambda metrics: metrics["score"]
      policy = keep.AnyPreservationPolicy([
          keep.LatestN(n=KEEP_LATEST),
          keep.BestN(get_metric_fn=score, reverse=not self.higher_is_better, n=1,
                     keep_checkpoints_without_metrics=False)])
      self._manager = ocp.CheckpointManager(self.root, options=ocp.CheckpointManagerOptions(
          best_fn=score, best_mode="max" if self.higher_is_better else "min",
          preservation_policy=policy, cleanup_tmp_directories=True, create=True))
    return self._manager

  def save(self, state, meta: dict, score: float | None = None) -> None:
    """Saves `state` (asynchronously) with `meta`; `score`: its validation
    score (None for a preemption save in mid-epoch). Raises
    CheckpointSaveError when this or the previous save failed."""
    step = int(jax.device_get(state.step))
    meta = dict(meta, config=self.config, sha256={"params": tree_sha256(state.params)})
    metrics = None if score is None else {"score": float(score),
                                          "higher_is_better": self.higher_is_better}
    try:
      # (quiet: without a score, orbax warns that the tracked metric is missing)
      with _quiet() if metrics is None else contextlib.nullcontext():
        self.manager.save(step, metrics=metrics, args=ocp.args.Composite(
            state=ocp.args.StandardSave(_state_tree(state)), meta=ocp.args.JsonSave(meta)))
      self.last_saved_step = step
    except Exception as e:   # noqa: BLE001 (any failure to write is reported the same way)
      raise self._save_error(step, e) from None

  def wait(self) -> None:
    """Blocks until the pending save is on disk."""
    if self._manager is None:
      return
    try:
      self._manager.wait_until_finished()
    except Exception as e:   # noqa: BLE001
      raise self._save_error(self.last_saved_step, e) from None

  def _save_error(self, step, error: Exception) -> CheckpointSaveError:
    kept = [s.step for s in kept_steps(self.workdir)]
    return CheckpointSaveError(
        f"Could not write the checkpoint of step {step} to {self.root}: {_short(error)}\n"
        f"Training stopped. The checkpoints written before are intact (steps "
        f"{kept or 'none'}). Make room or make the folder writable, then run the same "
        "command to resume from the newest one.")

  def restore(self, state, which: str = "latest", model_only: bool = False):
    """Returns (state filled from the newest intact step, its meta), or
    (state, None) when there is none. `which='best'`: the best-scored step
    only. Damaged steps newer than the one restored are moved to
    `workdir/checkpoints-damaged/` and listed in `self.skipped`. When no step
    can be read, nothing is moved and CheckpointDamagedError says so.
    Refuses a checkpoint of another config."""
    steps = kept_steps(self.workdir)
    if which == "best":
      steps = [s for s in [best_of(steps)] if s]
    failed = []
    for candidate in reversed(steps):
      try:
        restored, meta = _read(candidate.path, state)
      except Exception as e:   # noqa: BLE001 (orbax raises many kinds for damaged files)
        failed.append((candidate, _short(e)))
        continue
      diffs = config_differences(meta["config"], self.config,
                                 keys=MODEL_KEYS if model_only else None)
      if diffs:
        raise CheckpointMismatchError(
            f"The checkpoint in {candidate.path} was written with another config; these "
            "settings differ (checkpoint -> now):\n" + "\n".join(diffs) +
            "\nUse a new --workdir for a new experiment, or run with the config that "
            "wrote this checkpoint.")
      for damaged, why in failed:
        self.skipped.append(f"{damaged.path}: {why}")
        self._set_aside(damaged)
      return state.replace(**restored), meta
    if failed:
      raise CheckpointDamagedError(
          f"No checkpoint in {self.root} can be read:\n  " +
          "\n  ".join(f"{c.path}: {why}" for c, why in failed) +
          "\nIf they are damaged, restore them from a backup, or move the checkpoints "
          "folder away to train from the start.")
    return state, None

  def _set_aside(self, candidate: Step) -> None:
    """Moves a damaged step out of the manager's folder (kept for inspection),
    so the run does not stumble on it again or save over its step number."""
    if jax.process_index() == 0:
      target = os.path.join(self.workdir, DAMAGED, f"{candidate.step}-{int(time.time())}")
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(candidate.path, target)
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils
      multihost_utils.sync_global_devices(f"set aside {candidate.step}")

  def close(self) -> None:
    if self._manager is not None:
      self.wait()
      self._manager.close()


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

def find_checkpoint(workdir: str, checkpoint: str = "best") -> tuple[str, int]:
  """(folder, step) of the workdir's 'best' or 'latest' checkpoint, or of
  the kept checkpoint of step `checkpoint`."""
  root = os.path.join(os.path.abspath(workdir), "checkpoints")
  if checkpoint not in KINDS and not str(checkpoint).isdigit():
    raise ModelLoadError(f"--checkpoint must be 'best', 'latest' or a step number, "
                         f"not {checkpoint!r}.")
  steps = kept_steps(workdir)
  if not steps:
    raise ModelLoadError(f"No {checkpoint} checkpoint in {root}. Train first: "
                         f"python launch.py --config=... --workdir={workdir}")
  if checkpoint == "latest":
    found = steps[-1]
  elif checkpoint == "best":
    found = best_of(steps)
    if found is None:
      raise ModelLoadError(f"No best checkpoint in {root}: no kept step has a readable validation "
                           f"score yet (kept: {[s.step for s in steps]}). Use "
                           "--checkpoint=latest, or train on.")
  else:
    found = next((s for s in steps if s.step == int(checkpoint)), None)
    if found is None:
      raise ModelLoadError(f"No checkpoint of step {checkpoint} in {root}; kept steps: "
                           f"{[s.step for s in steps]}.")
  return found.path, found.step


def restore_params(path: str) -> tuple[dict, dict]:
  """(params as numpy arrays, meta) of one checkpoint folder; a damaged one
  raises CheckpointDamagedError naming it and what to do."""
  try:
    restored, meta = _read(path, params_only=True)
  except Exception as e:   # noqa: BLE001 (orbax raises many kinds for damaged files)
    workdir = path.rsplit(os.sep + "checkpoints" + os.sep, 1)[0]
    others = [s.step for s in kept_steps(workdir) if s.path != path]
    raise CheckpointDamagedError(
        f"The checkpoint {path} is damaged and was not used ({_short(e)}). Read another "
        f"one with --checkpoint=latest or a step number (kept: {others or 'none'}), or "
        "train again.") from None
  return restored["params"], meta
