"""One training run in a workdir: resume from its newest intact checkpoint,
log and checkpoint every epoch, and stop cleanly (saving first) when the
cluster or the user asks (SIGTERM, Ctrl-C)."""

import math
import os
import signal
import threading
from typing import Iterator

import jax
from tqdm import tqdm

from hwr_jax import checkpoints, run_log
from hwr_jax.run_log import log


class Preempted(Exception):
  """Training stopped early on request (SIGTERM, Ctrl-C) after saving."""


class _StopSignals:
  """SIGTERM (a cluster's preemption notice) or Ctrl-C asks the run to stop
  after the current step. One process: a signal handler sets a flag (a
  second Ctrl-C interrupts at once). Many processes: JAX's preemption
  service catches SIGTERM on any host and every host agrees on the step to
  stop at (`reached_preemption_sync_point`, asked after every step)."""

  def __init__(self):
    self.signal: str | None = None
    self.multi = jax.process_count() > 1
    self._previous = {}
    if not self.multi and threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)

  def _handle(self, signum, frame):
    if signum == signal.SIGINT and self.signal == "SIGINT":
      raise KeyboardInterrupt   # the second Ctrl-C: stop now
    self.signal = signal.Signals(signum).name
    if signum == signal.SIGINT:
      tqdm.write("\nStopping after this step and saving (Ctrl-C again to stop at once).")

  def requested(self, step_id: int) -> bool:
    if self.multi:
      from jax.experimental import multihost_utils
      if multihost_utils.reached_preemption_sync_point(step_id):
        self.signal = "SIGTERM"
        return True
      return False
    return self.signal is not None

  def restore(self) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class Run:
  """One training run in a workdir: restores the newest intact checkpoint
  (if any) into `state`, and after each epoch logs a record and saves a
  checkpoint with its validation `score`. Stops early, saving first, on
  SIGTERM or Ctrl-C.

    run = Run(config, workdir, state, charset, best_key="best_val_accuracy")
    for epoch in run.epochs():
      batches = ...(epoch, start=run.first_step(epoch))
      state, metrics = loop.run_epoch(..., run=run)
      run.end_epoch(state, epoch, record, score, seconds)
    run.close()
  """

  def __init__(self, config, workdir: str, state, charset: str, best_key: str,
               higher_is_better: bool = True):
    os.makedirs(workdir, exist_ok=True)
    self.config, self.workdir, self.charset = config, workdir, charset
    self.best_key, self.sign = best_key, 1 if higher_is_better else -1
    self.stop_on_divergence = config.get("stop_on_divergence", True)
    self.store = checkpoints.CheckpointStore(workdir, config.to_dict(), higher_is_better)
    self.state, meta = self.store.restore(state, "latest", charset=charset)
    for skipped in self.store.skipped:
      log(f"warning: skipped a damaged checkpoint (moved to {checkpoints.DAMAGED}/): {skipped}")
    meta = meta or {}
    self.start_epoch = meta.get("epoch", 0)
    self.start_step = meta.get("epoch_step", 0)   # > 0: stopped in mid-epoch
    self.best = meta.get(best_key, -self.sign * math.inf)
    self.train_seconds = meta.get("train_seconds", 0.0)
    # The untrained model's loss: the divergence reference (runs saved before
    # it was recorded are not checked for divergence, only for NaN).
    self.initial_loss = meta.get("initial_loss")
    self.fresh = not meta
    self.diverged_at = None
    if meta:
      where = (f"step {self.start_step} of epoch {self.start_epoch + 1}" if self.start_step
               else f"epoch {self.start_epoch}")
      log(f"Resuming from {workdir} after {where} (step {int(self.state.step)}).")
    self.metrics_path = os.path.join(workdir, "metrics.jsonl")
    run_log.truncate(self.metrics_path, self.start_epoch)
    checkpoints.save_workdir_config(workdir, config)
    self.last_record: dict = {}
    self.signals = _StopSignals()
    self._step_id = int(self.state.step)

  def epochs(self) -> Iterator[int]:
    for epoch in range(self.start_epoch, self.config.num_epochs):
      if self.signals.signal is not None:   # asked in an epoch's last step or validation
        self._stop(f"end of epoch {epoch}")
      yield epoch

  def first_step(self, epoch: int) -> int:
    """Steps of `epoch` already trained (by a run stopped in mid-epoch)."""
    return self.start_step if epoch == self.start_epoch else 0

  def _meta(self, epoch_done: int, epoch_step: int = 0) -> dict:
    return {"epoch": epoch_done, "epoch_step": epoch_step, self.best_key: self.best,
            "train_seconds": self.train_seconds, "charset": self.charset,
            "initial_loss": self.initial_loss}

  def end_epoch(self, state, epoch: int, record: dict, score: float,
                epoch_seconds: float) -> bool:
    """Logs `record` (epoch, step, best score and training time added) to
    metrics.jsonl and checkpoints `state`. Returns whether it is the best."""
    is_best = self.sign * score > self.sign * self.best
    if is_best:
      self.best = score
    self.train_seconds += epoch_seconds
    self.last_record = {"epoch": epoch + 1, "step": int(jax.device_get(state.step)),
                        **record, self.best_key: self.best,
                        "train_seconds": self.train_seconds}
    run_log.append(self.metrics_path, self.last_record)
    self.store.save(state, self._meta(epoch + 1), score)
    return is_best

  def stop_requested(self) -> bool:
    """Called after every step (on every host, in step)."""
    self._step_id += 1
    return self.signals.requested(self._step_id)

  def save_and_stop(self, state, epoch: int, epoch_step: int, steps: int):
    """Saves `state` after `epoch_step` steps of `epoch` and raises Preempted."""
    self.store.save(state, self._meta(epoch, epoch_step))
    self._stop(f"epoch {epoch + 1}, step {epoch_step} of {steps}")

  def _stop(self, where: str):
    self.store.wait()
    raise Preempted(
        f"Stopped by {self.signals.signal} after step {self.store.last_saved_step} "
        f"({where}); saved a checkpoint there. Run the same command to resume from it.")

  def close(self) -> None:
    self.signals.restore()
    self.store.wait()  # a pending async save completes even when interrupted
    self.store.close()
