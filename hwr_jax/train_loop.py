"""What every trainer here shares: the optimizer, the train state, the epoch
loop with its progress bar and divergence check, and the run in a workdir
(resume from the latest checkpoint, metrics.jsonl, checkpoints with the best
score). The trainers (`train.py`: characters, `train_words.py`: words) keep
what differs: their model, data, step and validation.
"""

import json
import math
import os
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
  """The loss became NaN or infinite."""


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


def truncate_jsonl(path: str, last_epoch: int) -> None:
  """Drops records of epochs after `last_epoch` (logged, but not checkpointed,
  before a run was killed) so a resumed run does not log them twice."""
  if not is_main() or not os.path.exists(path):
    return
  lines = [l for l in open(path) if l.strip() and json.loads(l)["epoch"] <= last_epoch]
  with open(path, "w") as f:
    f.writelines(lines)


def run_epoch(step_fn: Callable, state, batches: Iterator[dict], steps: int, epoch: int,
              config, what: str = "loss") -> tuple[object, dict]:
  """Runs `state, metrics = step_fn(state, batch)` over one epoch's batches
  with a progress bar. Returns the state and the epoch's mean metrics, plus
  samples_per_second, epoch_seconds and input_wait_fraction. Stops with
  TrainingDivergedError when the mean loss is not finite."""
  sums = None
  start = time.perf_counter()
  bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.num_epochs}",
             disable=not is_main(), unit="step", dynamic_ncols=True)
  waited = 0.0  # host time blocked on the input pipeline (prefetch queue empty)
  ticked = time.perf_counter()
  i = -1
  for i, batch in enumerate(batches):
    waited += time.perf_counter() - ticked
    state, metrics = step_fn(state, batch)
    sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
    if (i + 1) % config.log_every_steps == 0 or i + 1 == steps:
      mean = {k: float(v) / (i + 1) for k, v in sums.items()}  # syncs the device
      if not math.isfinite(mean["loss"]):
        bar.close()
        raise TrainingDivergedError(
            f"The training {what} became {mean['loss']} in epoch {epoch + 1} (by step "
            f"{int(jax.device_get(state.step))}). Nothing of this epoch was saved; the last "
            "checkpoint is intact. Lower --config.learning_rate (or check the data for "
            "corrupt images) and run again with the same --workdir to resume from it.")
      bar.set_postfix({k: f"{v:.4f}" for k, v in mean.items()} | {
          "samples_per_s": f"{(i + 1) * config.batch_size / (time.perf_counter() - start):.0f}"})
    bar.update(1)
    ticked = time.perf_counter()
  bar.close()
  if sums is None:
    raise ValueError("The epoch had no batches.")
  elapsed = time.perf_counter() - start
  result = {k: float(v) / (i + 1) for k, v in sums.items()}
  result["samples_per_second"] = (i + 1) * config.batch_size / elapsed
  result["epoch_seconds"] = elapsed
  # An upper bound on the device's idle share: steps are dispatched
  # asynchronously, so while the host waits for a batch, steps already queued
  # may still be running.
  result["input_wait_fraction"] = waited / elapsed
  return state, result


class Run:
  """One training run in a workdir: restores the latest checkpoint (if any)
  into `state`, and after each epoch logs a record and saves a checkpoint,
  marked best when `score` beats every earlier epoch's.

    run = Run(config, workdir, state, charset, best_key="best_val_accuracy")
    for epoch in run.epochs():
      ...
      run.end_epoch(state, record, score)
    run.close()
  """

  def __init__(self, config, workdir: str, state, charset: str, best_key: str,
               higher_is_better: bool = True):
    os.makedirs(workdir, exist_ok=True)
    self.config, self.workdir, self.charset = config, workdir, charset
    self.best_key, self.sign = best_key, 1 if higher_is_better else -1
    self.store = checkpoints.CheckpointStore(workdir, config.to_dict())
    self.state, meta = self.store.restore(state, "latest")
    self.start_epoch = meta["epoch"] if meta else 0
    self.best = meta[best_key] if meta else -self.sign * math.inf
    self.train_seconds = meta.get("train_seconds", 0.0) if meta else 0.0
    if meta:
      log(f"Resuming from {workdir} after epoch {self.start_epoch} "
          f"(step {int(self.state.step)}).")
    self.metrics_path = os.path.join(workdir, "metrics.jsonl")
    truncate_jsonl(self.metrics_path, self.start_epoch)
    checkpoints.save_workdir_config(workdir, config)
    self.last_record: dict = {}

  def epochs(self) -> range:
    return range(self.start_epoch, self.config.num_epochs)

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
    self.store.save(state, {"epoch": epoch + 1, self.best_key: self.best,
                            "train_seconds": self.train_seconds, "charset": self.charset},
                    is_best)
    return is_best

  def close(self) -> None:
    self.store.wait()  # a pending async save completes even when interrupted
    self.store.close()
