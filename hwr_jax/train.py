"""Training the character classifiers: train state, jit-compiled steps,
the epoch loop (shared machinery in `train_loop.py`), then evaluation.

The core is functional: `train_step(state, batch) -> (state, metrics)` is
pure and jit-compiled once (static shapes); randomness for dropout and
augmentation is derived from (seed, step), so a resumed run replays exactly.
"""

import functools
import os

import jax
import ml_collections
import numpy as np
import optax

from hwr_jax import augment, evaluate, inference, metrics, models, parallel, plots, train_loop
from hwr_jax.data import batching, sources, vocabulary
from hwr_jax.train_loop import (Run, TrainingDivergedError, TrainState,  # noqa: F401
                                log, make_optimizer, run_epoch)


def create_train_state(config, num_classes: int, steps_per_epoch: int) -> TrainState:
  model = models.create_model(config, num_classes)
  params = jax.jit(model.init)(jax.random.key(config.seed), *models.init_inputs(config))["params"]
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
  images = models.to_float(batch["image"])
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


def eval_step(state: TrainState, batch: dict):
  """Logits of one (padded) batch, no dropout, no augmentation."""
  return state.apply_fn({"params": state.params}, models.to_float(batch["image"]), train=False)


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
    return inference.classifier_logits(lambda image: self.eval_step(state, {"image": image}),
                                       images, self.config.eval_batch_size, self.mesh)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint), then
  evaluates the best checkpoint; returns the final metrics."""
  splits = sources.load(config.data)
  mesh = parallel.make_mesh()
  trainer = Trainer(config, mesh)
  train_x, train_y = splits.train
  steps_per_epoch = batching.num_train_steps(len(train_x), config.batch_size)
  if steps_per_epoch == 0:
    raise ValueError(f"Only {len(train_x)} training examples: fewer than one "
                     f"batch of {config.batch_size}.")
  run = Run(config, workdir, create_train_state(config, splits.num_classes, steps_per_epoch),
            splits.charset, best_key="best_val_accuracy")
  state = trainer.put_state(run.state)
  if train_loop.is_main():
    vocabulary.write_class_counts(workdir, splits.charset, train_y)
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    log(f"{n_params:,} parameters; {len(train_x):,} train / "
        f"{len(splits.validation[0]):,} validation examples; {steps_per_epoch} "
        f"steps per epoch; {mesh.size} device(s) ({jax.default_backend()}), "
        f"{jax.process_count()} host(s).")
  try:
    for epoch in run.epochs():
      state, train_metrics = _train_one_epoch(trainer, state, splits, epoch, steps_per_epoch,
                                              run)
      val = metrics.classification_metrics(
          splits.validation[1], trainer.predict(state, splits.validation[0]))
      record = {**{f"train_{k}": v for k, v in train_metrics.items()},
                **{f"val_{k}": v for k, v in val.items()}}
      is_best = run.end_epoch(state, epoch, record, val["accuracy"],
                              train_metrics["epoch_seconds"])
      log(f"epoch {epoch + 1}/{config.num_epochs}  train loss {train_metrics['loss']:.4f} "
          f"acc {train_metrics['accuracy']:.4f} | val loss {val['loss']:.4f} acc "
          f"{val['accuracy']:.4f} top-5 {val['top5_accuracy']:.4f} macro-F1 "
          f"{val['macro_f1']:.4f} | {train_metrics['samples_per_second']:.0f} "
          f"samples/s, {100 * train_metrics['input_wait_fraction']:.1f} % waiting for "
          f"input{'  (best)' if is_best else ''}")
  finally:
    run.close()
  if train_loop.is_main() and os.path.exists(run.metrics_path):
    plots.training_curves(run.metrics_path, os.path.join(workdir, "training_curves.png"))
  return evaluate.evaluate_checkpoint(config, workdir, splits=splits)


def _train_one_epoch(trainer: Trainer, state, splits, epoch: int, steps: int, run=None):
  config = trainer.config
  batches = trainer.batches(batching.train_batches(
      *splits.train, config.batch_size, config.seed, epoch,
      jax.process_index(), jax.process_count(), start=run.first_step(epoch) if run else 0))
  return run_epoch(trainer.train_step, state, batches, steps, epoch, config, run=run)
