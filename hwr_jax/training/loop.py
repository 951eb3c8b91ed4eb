"""The epoch loop every trainer shares: run a pure, jitted step over one
epoch's batches with a progress bar, and stop a run whose loss is NaN or
exploding before it wastes hours (`TrainingDivergedError`)."""

import math
import time
from typing import Callable, Iterator

import jax
import jax.numpy as jnp
from tqdm import tqdm

from hwr_jax import run_log
from hwr_jax.run_log import is_main, log


class TrainingDivergedError(RuntimeError):
  """The loss became NaN or infinite, or exploded."""


# A mean training loss this many times the untrained model's is divergence.
DIVERGENCE_FACTOR = 3.0


def run_epoch(step_fn: Callable, state, batches: Iterator[dict], steps: int, epoch: int, *,
              num_epochs: int, batch_size: int, log_every: int, what: str = "loss",
              run=None) -> tuple[object, dict]:
  """Runs `state, metrics = step_fn(state, batch)` over one epoch's batches
  with a progress bar (resuming at `run.first_step(epoch)` when the run was
  stopped in mid-epoch: `batches` must start there). Returns the state and
  the epoch's mean metrics, plus samples_per_second, epoch_seconds and
  input_wait_fraction (`batch_size`: global examples per step; the progress
  bar shows the mean metrics every `log_every` steps). Stops with
  TrainingDivergedError when the mean loss is not finite, or (the run's
  `stop_on_divergence`) far above the untrained model's; with a `run`
  (`training/run.py`), stops with Preempted after saving when SIGTERM (or
  Ctrl-C) asked."""
  first = run.first_step(epoch) if run else 0
  sums = None
  start = time.perf_counter()
  bar = tqdm(total=steps, initial=first, desc=f"epoch {epoch + 1}/{num_epochs}",
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
    if n % log_every == 0 or first + n == steps:
      mean = {k: float(v) / n for k, v in sums.items()}  # syncs the device
      _check_health(mean["loss"], run, state, epoch, what, bar)
      bar.set_postfix({k: f"{v:.4f}" for k, v in mean.items()} | {
          "samples_per_s": f"{n * batch_size / (time.perf_counter() - start):.0f}"})
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
  result["samples_per_second"] = n * batch_size / elapsed
  result["epoch_seconds"] = elapsed
  # An upper bound on the device's idle share: steps are dispatched
  # asynchronously, so while the host waits for a batch, steps already queued
  # may still be running.
  result["input_wait_fraction"] = waited / elapsed
  if run is not None and run.diverged_at is not None:
    result["diverged"] = True
  return state, result


def _check_health(loss: float, run, state, epoch: int, what: str, bar) -> None:
  """NaN/inf stops the run. A mean loss above DIVERGENCE_FACTOR times the
  untrained model's (the run's first step) is divergence: logged, marked in
  metrics.jsonl, and it stops the run when `run.stop_on_divergence`."""
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
    run_log.append(run.metrics_path, {"epoch": epoch + 1, "step": step, "diverged": True,
                                    "train_loss": loss, "initial_loss": run.initial_loss})
  if run.stop_on_divergence:
    bar.close()
    raise TrainingDivergedError(
        f"The training {what} diverged: {loss:.4g} in epoch {epoch + 1} (step {step}), more "
        f"than {DIVERGENCE_FACTOR}x the untrained model's {run.initial_loss:.4g}. {advice} "
        "(--config.stop_on_divergence=False only warns.)")
