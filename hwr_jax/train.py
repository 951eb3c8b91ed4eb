"""Training: train state, jit-compiled steps, the epoch loop, checkpoints.

The core is functional: `train_step(state, batch) -> (state, metrics)` is
pure and jit-compiled once (static shapes); randomness for dropout and
augmentation is derived from (seed, step), so a resumed run replays exactly.
"""

import functools
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state
from tqdm import tqdm

from hwr_jax import augment, checkpoints, metrics, parallel, plots
from hwr_jax.data import batching, sources
from hwr_jax.models.cnn import create_model


class TrainingDivergedError(RuntimeError):
  """The loss became NaN or infinite."""


TrainState = train_state.TrainState


def preprocess(images: jnp.ndarray) -> jnp.ndarray:
  """uint8 (B, 28, 28) -> float32 (B, 28, 28, 1) in [0, 1]; runs on device."""
  return images.astype(jnp.float32)[..., None] / 255.0


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
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
  if config.weight_decay:
    return optax.adamw(lr, weight_decay=config.weight_decay)
  return optax.adam(lr)


def create_train_state(config, num_classes: int, steps_per_epoch: int) -> TrainState:
  model = create_model(config.model, num_classes)
  params = jax.jit(model.init)(jax.random.key(config.seed),
                               jnp.zeros((1, 28, 28, 1)))["params"]
  return TrainState.create(apply_fn=model.apply, params=params,
                           tx=make_optimizer(config, steps_per_epoch))


def cross_entropy(logits, labels, num_classes: int, label_smoothing: float = 0.0):
  if label_smoothing:
    targets = optax.smooth_labels(jax.nn.one_hot(labels, num_classes), label_smoothing)
    return optax.softmax_cross_entropy(logits, targets)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def train_step(state: TrainState, batch: dict, *, config) -> tuple[TrainState, dict]:
  """One Adam step on one batch. Pure; jit-compiled by the caller."""
  key = jax.random.fold_in(jax.random.key(config.seed), state.step)
  aug_key, dropout_key = jax.random.split(key)
  images = preprocess(batch["image"])
  if config.augment.enabled:
    images = augment.random_affine(
        aug_key, images, config.augment.max_rotation_deg, config.augment.max_shear,
        config.augment.max_scale, config.augment.max_translate)

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, images, train=True,
                            rngs={"dropout": dropout_key})
    loss = cross_entropy(logits, batch["label"], logits.shape[-1],
                         config.label_smoothing).mean()
    return loss, logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(grads=grads)
  accuracy = (logits.argmax(-1) == batch["label"]).mean()
  return state, {"loss": loss, "accuracy": accuracy}


def eval_step(state: TrainState, batch: dict) -> jnp.ndarray:
  """Logits of one (padded) batch, no dropout, no augmentation."""
  return state.apply_fn({"params": state.params}, preprocess(batch["image"]), train=False)


class Trainer:
  """Holds the compiled steps for one config and device mesh."""

  def __init__(self, config, mesh):
    self.config = config
    self.mesh = mesh
    parallel.check_batch_size(config.batch_size, mesh)
    parallel.check_batch_size(config.eval_batch_size, mesh, "eval_batch_size")
    self.train_step = jax.jit(functools.partial(train_step, config=config),
                              donate_argnums=0)
    self.eval_step = jax.jit(eval_step)

  def put_state(self, state: TrainState) -> TrainState:
    return jax.device_put(state, parallel.replicated(self.mesh))

  def batches(self, iterator):
    return batching.prefetch(iterator, lambda b: parallel.host_to_global(b, self.mesh))

  def predict(self, state: TrainState, images: np.ndarray) -> np.ndarray:
    """Logits (N, K) for all images, batched and sharded like training."""
    if len(images) == 0:
      raise ValueError("No images to predict.")
    logits, masks = [], []
    for batch in self.batches(batching.eval_batches(
        images, np.zeros(len(images), np.int32), self.config.eval_batch_size,
        jax.process_index(), jax.process_count())):
      logits.append(self.eval_step(state, batch))
      masks.append(batch["mask"])
    logits, masks = parallel.global_to_host((logits, masks))
    return np.concatenate(logits)[np.concatenate(masks)]


def _is_main() -> bool:
  return jax.process_index() == 0


def log(message: str) -> None:
  """Prints on the main host only (tqdm-safe)."""
  if _is_main():
    tqdm.write(message)


def append_jsonl(path: str, record: dict) -> None:
  if _is_main():
    with open(path, "a") as f:
      f.write(json.dumps(record) + "\n")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint), then
  evaluates the best checkpoint; returns the final metrics."""
  os.makedirs(workdir, exist_ok=True)
  splits = sources.load(config.data)
  mesh = parallel.make_mesh()
  trainer = Trainer(config, mesh)
  train_x, train_y = splits.train
  steps_per_epoch = batching.num_train_steps(len(train_x), config.batch_size)
  if steps_per_epoch == 0:
    raise ValueError(f"Only {len(train_x)} training examples: fewer than one "
                     f"batch of {config.batch_size}.")
  state = create_train_state(config, splits.num_classes, steps_per_epoch)
  store = checkpoints.CheckpointStore(workdir, config.to_dict())
  state, meta = store.restore(state, "latest")
  start_epoch = meta["epoch"] if meta else 0
  best_accuracy = meta["best_val_accuracy"] if meta else -1.0
  train_seconds = meta.get("train_seconds", 0.0) if meta else 0.0
  if meta:
    log(f"Resuming from {workdir} after epoch {start_epoch} (step {int(state.step)}).")
  state = trainer.put_state(state)
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  truncate_jsonl(metrics_path, start_epoch)
  checkpoints.save_workdir_config(workdir, config)
  if _is_main():
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    log(f"{n_params:,} parameters; {len(train_x):,} train / "
        f"{len(splits.validation[0]):,} validation examples; {steps_per_epoch} "
        f"steps per epoch; {mesh.size} device(s) ({jax.default_backend()}), "
        f"{jax.process_count()} host(s).")

  try:
    for epoch in range(start_epoch, config.num_epochs):
      state, train_metrics = _train_one_epoch(trainer, state, splits, epoch,
                                              steps_per_epoch)
      val = metrics.classification_metrics(
          splits.validation[1], trainer.predict(state, splits.validation[0]))
      train_seconds += train_metrics["epoch_seconds"]
      is_best = val["accuracy"] > best_accuracy
      best_accuracy = max(best_accuracy, val["accuracy"])
      record = {"epoch": epoch + 1, "step": int(jax.device_get(state.step)),
                **{f"train_{k}": v for k, v in train_metrics.items()},
                **{f"val_{k}": v for k, v in val.items()},
                "best_val_accuracy": best_accuracy, "train_seconds": train_seconds}
      append_jsonl(metrics_path, record)
      log(f"epoch {epoch + 1}/{config.num_epochs}  train loss {train_metrics['loss']:.4f} "
          f"acc {train_metrics['accuracy']:.4f} | val loss {val['loss']:.4f} acc "
          f"{val['accuracy']:.4f} top-5 {val['top5_accuracy']:.4f} macro-F1 "
          f"{val['macro_f1']:.4f} | {train_metrics['samples_per_second']:.0f} "
          f"samples/s, {100 * train_metrics['input_wait_fraction']:.1f} % waiting for "
          f"input{'  (best)' if is_best else ''}")
      store.save(state, {"epoch": epoch + 1, "best_val_accuracy": best_accuracy,
                         "val_accuracy": val["accuracy"],
                         "train_seconds": train_seconds}, is_best)
  finally:
    store.wait()  # a pending async save completes even when interrupted
    store.close()
  if _is_main() and os.path.exists(metrics_path):
    plots.training_curves(metrics_path, os.path.join(workdir, "training_curves.png"))

  from hwr_jax import evaluate  # evaluate imports this module
  return evaluate.evaluate_checkpoint(config, workdir, splits=splits)


def truncate_jsonl(path: str, last_epoch: int) -> None:
  """Drops records of epochs after `last_epoch` (logged, but not checkpointed,
  before a run was killed) so a resumed run does not log them twice."""
  if not _is_main() or not os.path.exists(path):
    return
  lines = [l for l in open(path) if l.strip() and json.loads(l)["epoch"] <= last_epoch]
  with open(path, "w") as f:
    f.writelines(lines)


def _train_one_epoch(trainer: Trainer, state, splits, epoch: int, steps: int):
  config = trainer.config
  sums = None
  start = time.perf_counter()
  bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.num_epochs}",
             disable=not _is_main(), unit="step", dynamic_ncols=True)
  iterator = trainer.batches(batching.train_batches(
      *splits.train, config.batch_size, config.seed, epoch,
      jax.process_index(), jax.process_count()))
  waited = 0.0  # host time blocked on the input pipeline (prefetch queue empty)
  ticked = time.perf_counter()
  for i, batch in enumerate(iterator):
    waited += time.perf_counter() - ticked
    state, metrics = trainer.train_step(state, batch)
    sums = metrics if sums is None else jax.tree.map(jnp.add, sums, metrics)
    if (i + 1) % config.log_every_steps == 0 or i + 1 == steps:
      mean = {k: float(v) / (i + 1) for k, v in sums.items()}  # syncs the device
      if not math.isfinite(mean["loss"]):
        bar.close()
        raise TrainingDivergedError(
            f"The training loss became {mean['loss']} in epoch {epoch + 1} (by "
            f"step {int(jax.device_get(state.step))}). Nothing of this epoch was "
            "saved; the last checkpoint is intact. Lower --config.learning_rate "
            "(or check the data for corrupt images) and run again with the same "
            "--workdir to resume from that checkpoint.")
      bar.set_postfix(loss=f"{mean['loss']:.4f}", acc=f"{mean['accuracy']:.3f}",
                      samples_per_s=f"{(i + 1) * config.batch_size / (time.perf_counter() - start):.0f}")
    bar.update(1)
    ticked = time.perf_counter()
  bar.close()
  elapsed = time.perf_counter() - start
  result = {k: float(v) / steps for k, v in sums.items()}
  result["samples_per_second"] = steps * config.batch_size / elapsed
  result["epoch_seconds"] = elapsed
  # An upper bound on the device's idle share: steps are dispatched
  # asynchronously, so while the host waits for a batch, steps already queued
  # may still be running.
  result["input_wait_fraction"] = waited / elapsed
  return state, result
