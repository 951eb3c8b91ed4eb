"""Checkpoints of a training run, with orbax: one manager, one save per
epoch, each step with the config that made it, its validation score and the
sha256 of its weights; resume from the newest *intact* step, saying which it
skipped and why. A step written under another config is refused before any
of its arrays is read.

workdir/checkpoints/<step>/        kept: the newest 2 and the best by score
workdir/checkpoints-damaged/<step> steps found damaged on resume, set aside
"""

import contextlib
import json
import os
import shutil
import time

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as keep

from hwr_jax.checkpoints.errors import (CheckpointDamagedError, CheckpointMismatchError,
                                        CheckpointSaveError, short)
from hwr_jax.checkpoints.quiet import drop_background_noise, quiet
from hwr_jax.checkpoints.step import read_arrays, read_meta, state_tree, tree_sha256
from hwr_jax.checkpoints.workdir import (DAMAGED, MODEL_KEYS, Step, best_of,
                                         config_differences, kept_steps)

KEEP_LATEST = 2


def charset_difference(path: str, saved: str, current: str) -> str:
  """What a user reads when the data's characters are not the checkpoint's."""
  new, gone = sorted(set(current) - set(saved)), sorted(set(saved) - set(current))
  return (f"The checkpoint in {path} reads {len(saved)} characters; the data now has "
          f"{len(current)}" + (f" (new: {''.join(new)!r})" if new else "") +
          (f" (missing: {''.join(gone)!r})" if gone else "") + ". Its output layer has a "
          "row per character, so it cannot go on training on this data: use a new --workdir "
          "(the data's texts decide the charset).")


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
    drop_background_noise()

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
      with quiet() if metrics is None else contextlib.nullcontext():
        self.manager.save(step, metrics=metrics, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state_tree(state)), meta=ocp.args.JsonSave(meta)))
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
        f"Could not write the checkpoint of step {step} to {self.root}: {short(error)}\n"
        f"Training stopped. The checkpoints written before are intact (steps "
        f"{kept or 'none'}). Make room or make the folder writable, then run the same "
        "command to resume from the newest one.")

  def restore(self, state, which: str = "latest", model_only: bool = False,
              charset: str | None = None):
    """Returns (state filled from the newest intact step, its meta), or
    (state, None) when there is none. `which='best'`: the best-scored step
    only. Damaged steps newer than the one restored are moved to
    `workdir/checkpoints-damaged/` and listed in `self.skipped`. When no step
    can be read, nothing is moved and CheckpointDamagedError says so.
    Refuses a checkpoint of another config, or of another `charset` (a
    model's output layer has a row per character), before reading arrays."""
    steps = kept_steps(self.workdir)
    if which == "best":
      steps = [s for s in [best_of(steps)] if s]
    failed = []
    for candidate in reversed(steps):
      try:
        meta = read_meta(candidate.path)
      except Exception as e:   # noqa: BLE001 (orbax raises many kinds for damaged files)
        failed.append((candidate, short(e)))
        continue
      # The config first (no arrays read): a setting that changes a shape
      # must be named as such, not look like damage.
      diffs = config_differences(meta.get("config", {}), self.config,
                                 keys=MODEL_KEYS if model_only else None)
      if diffs:
        raise CheckpointMismatchError(
            f"The checkpoint in {candidate.path} was written with another config; these "
            "settings differ (checkpoint -> now):\n" + "\n".join(diffs) +
            "\nUse a new --workdir for a new experiment, or run with the config that "
            "wrote this checkpoint.")
      if charset is not None and meta.get("charset") not in (None, charset):
        raise CheckpointMismatchError(charset_difference(candidate.path, meta["charset"], charset))
      try:
        restored = read_arrays(candidate.path, meta, state)
      except Exception as e:   # noqa: BLE001
        failed.append((candidate, short(e)))
        continue
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
