"""What every trainer here shares: the optimizer, the train state, the epoch
loop with its progress bar and divergence check, and the run in a workdir
(resume from the latest checkpoint, metrics.jsonl, checkpoints with the best
score). The trainers (`train.py`: characters, `train_words.py`: words) keep
what differs: their model, data, step and validation.
"""

import json
import math
import os
import signal
import threading
import time
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
import optax
from flax.training import train_state
from tqdm import tqdm

from hwr_jax import checkpoints

TrainState = train_state.TrainState


class TrainingDivergedError(RuntimeError):
  """The loss became NaN or infinite, or exploded."""


# A mean training loss this many times the untrained model's is divergence.
DIVERGENCE_FACTOR = 3.0


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
  """Adam (AdamW with `weight_decay`) on a constant or warmup + cosine
  schedule; clipped by global norm when the config has `gradient_clip`."""
  total = max(1, config.num_epochs * steps_per_epoch)
  if config.schedule == "constant":
    lr = config.learning_rate
  elif config.schedule == "cosine":
    lr = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate,
        warmup_steps=min(total // 2, int(config.warmup_epochs * steps_per_epoch)),
        decay_steps=total, end_value=config.learning_rate * 0.01)
  else:
    raise ValueError(f"Unknown schedule {config.schedule!r} (constant, cosine).")
  tx = (optax.adamw(lr, weight_decay=config.weight_decay) if config.weight_decay
        else optax.adam(lr))
  if config.get("gradient_clip"):
    tx = optax.chain(optax.clip_by_global_norm(config.gradient_clip), tx)
  return tx


def is_main() -> bool:
  return jax.process_index() == 0


def log(message: str) -> None:
  """Prints on the main host only (tqdm-safe)."""
  if is_main():
    tqdm.write(message)


def append_jsonl(path: str, record: dict) -> None:
  if is_main():
    with open(path, "a") as f:
      f.write(json.dumps(record) + "\n")


def epoch_records(path: str) -> list[dict]:
  """The per-epoch records of a metrics.jsonl (not the events logged beside
  them, such as a divergence warning)."""
  return [r for r in map(json.loads, filter(str.strip, open(path))) if "train_seconds" in r]


def truncate_jsonl(path: str, last_epoch: int) -> None:
  """Drops records of epochs after `last_epoch` (logged, but not checkpointed,
  before a run was killed) so a resumed run does not log them twice."""
  if not is_main() or not os.path.exists(path):
    return
  lines = [l for l in open(path) if l.strip() and json.loads(l)["epoch"] <= last_epoch]
  with open(path, "w") as f:
    f.writelines(lines)


def run_epoch(step_fn: Callable, state, batches: Iterator[dict], steps: int, epoch: int,
              config, what: str = "loss", run: "Run | None" = None) -> tuple[object, dict]:
  """Runs `state, metrics = step_fn(state, batch)` over one epoch's batches
  with a progress bar (resuming at `run.first_step(epoch)` when the run was
  stopped in mid-epoch: `batches` must start there). Returns the state and
  the epoch's mean metrics, plus samples_per_second, epoch_seconds and
  input_wait_fraction. Stops with TrainingDivergedError when the mean loss is
  not finite, or (`stop_on_divergence`) far above the untrained model's; with
  a `run`, stops with Preempted after saving when SIGTERM (or Ctrl-C) asked."""
  first = run.first_step(epoch) if run else 0
  sums = None
  start = time.perf_counter()
  bar = tqdm(total=steps, initial=first, desc=f"epoch {epoch + 1}/{config.num_epochs}",
             disable=not is_main(), unit="step", dynamic_ncols=True)
  waited = 0.0  # host time blocked on the input pipeline (prefetch queue empty)
  ticked = time.perf_counter()
  n = 0
  for n, batch in enumerate(batches, 1):
    waited += time.perf_counter() - ticked
    state, metrics = step_fn(state, batch)
    sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
    if run is not None and run.initial_loss is None and run.fresh:
      run.initial_loss = float(metrics["loss"])   # the untrained model's loss
    if n % config.log_every_steps == 0 or first + n == steps:
      mean = {k: float(v) / n for k, v in sums.items()}  # syncs the device
      _check_health(mean["loss"], run, state, epoch, what, config, bar)
      bar.set_postfix({k: f"{v:.4f}" for k, v in mean.items()} | {
          "samples_per_s": f"{n * config.batch_size / (time.perf_counter() - start):.0f}"})
    bar.update(1)
    if run is not None and run.stop_requested() and first + n < steps:
      bar.close()   # (at the epoch's last step, end_epoch saves and stops)
      run.save_and_stop(state, epoch, first + n, steps)
    ticked = time.perf_counter()
  bar.close()
  if sums is None:
    raise ValueError("The epoch had no batches.")
  elapsed = time.perf_counter() - start
  result = {k: float(v) / n for k, v in sums.items()}
  result["samples_per_second"] = n * config.batch_size / elapsed
  result["epoch_seconds"] = elapsed
  # An upper bound on the device's idle share: steps are dispatched
  # asynchronously, so while the host waits for a batch, steps already queued
  # may still be running.
  result["input_wait_fraction"] = waited / elapsed
  if run is not None and run.diverged_at is not None:
    result["diverged"] = True
  return state, result


def _check_health(loss: float, run, state, epoch: int, what: str, config, bar) -> None:
  """NaN/inf stops the run. A mean loss above DIVERGENCE_FACTOR times the
  untrained model's (the run's first step) is divergence: logged, marked in
  metrics.jsonl, and it stops the run when `config.stop_on_divergence`."""
  step = int(jax.device_get(state.step))
  advice = ("Nothing of this epoch was saved; the last checkpoint is intact. Lower "
            "--config.learning_rate (or check the data for corrupt images) and run again "
            "with the same --workdir to resume from it.")
  if not math.isfinite(loss):
    bar.close()
    raise TrainingDivergedError(
        f"The training {what} became {loss} in epoch {epoch + 1} (by step {step}). {advice}")
  if run is None or run.initial_loss is None or loss <= DIVERGENCE_FACTOR * run.initial_loss:
    return
  if run.diverged_at is None:
    run.diverged_at = step
    log(f"warning: the training {what} {loss:.4g} is more than {DIVERGENCE_FACTOR}x the "
        f"untrained model's ({run.initial_loss:.4g}) at step {step}: the run is diverging.")
    append_jsonl(run.metrics_path, {"epoch": epoch + 1, "step": step, "diverged": True,
                                    "train_loss": loss, "initial_loss": run.initial_loss})
  if config.get("stop_on_divergence", True):
    bar.close()
    raise TrainingDivergedError(
        f"The training {what} diverged: {loss:.4g} in epoch {epoch + 1} (step {step}), more "
        f"than {DIVERGENCE_FACTOR}x the untrained model's {run.initial_loss:.4g}. {advice} "
        "(--config.stop_on_divergence=False only warns.)")


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
      state, metrics = run_epoch(..., run=run)
      run.end_epoch(state, epoch, record, score, seconds)
    run.close()
  """

  def __init__(self, config, workdir: str, state, charset: str, best_key: str,
               higher_is_better: bool = True):
    os.makedirs(workdir, exist_ok=True)
    self.config, self.workdir, self.charset = config, workdir, charset
    self.best_key, self.sign = best_key, 1 if higher_is_better else -1
    self.store = checkpoints.CheckpointStore(workdir, config.to_dict(), higher_is_better)
    self.state, meta = self.store.restore(state, "latest")
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
    truncate_jsonl(self.metrics_path, self.start_epoch)
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
    append_jsonl(self.metrics_path, self.last_record)
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
