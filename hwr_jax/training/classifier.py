"""Training the character classifiers: the task `trainer.py` runs.

The core is functional: `train_step(state, batch) -> (state, metrics)` is
pure and jit-compiled once (static shapes); randomness for dropout and
augmentation is derived from (seed, step), so a resumed run replays exactly.
"""

import functools

import jax
import ml_collections
import numpy as np
import optax

from hwr_jax import inference, models
from hwr_jax.data import batching, sources, vocabulary
from hwr_jax.evaluators import classification
from hwr_jax.preprocess import augment
from hwr_jax.training import trainer
from hwr_jax.training.optimizer import TrainState, make_optimizer


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


def train_step(state: TrainState, batch: dict, *, seed: int, augmentation=None,
               label_smoothing: float = 0.0) -> tuple[TrainState, dict]:
  """One Adam step on one batch. Pure; jit-compiled by the caller.
  `augmentation`: the config's `augment` settings (None or disabled: none)."""
  key = jax.random.fold_in(jax.random.key(seed), state.step)
  aug_key, dropout_key = jax.random.split(key)
  images = models.to_float(batch["image"])
  if augmentation is not None and augmentation.enabled:
    images = augment.random_affine(
        aug_key, images, augmentation.max_rotation_deg, augmentation.max_shear,
        augmentation.max_scale, augmentation.max_translate)

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, images, train=True,
                            rngs={"dropout": dropout_key})
    loss = cross_entropy(logits, batch["label"], logits.shape[-1], label_smoothing).mean()
    return loss, logits

  (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  state = state.apply_gradients(grads=grads)
  accuracy = (logits.argmax(-1) == batch["label"]).mean()
  return state, {"loss": loss, "accuracy": accuracy}


def eval_step(state: TrainState, batch: dict):
  """Logits of one (padded) batch, no dropout, no augmentation."""
  return state.apply_fn({"params": state.params}, models.to_float(batch["image"]), train=False)


class ClassifierTask:
  """A character classifier on the arrays of `sources.load(config.data)`."""
  best_key, higher_is_better, what = "best_val_accuracy", True, "loss"

  def __init__(self, config, splits: sources.Splits | None = None):
    self.config = config
    self.splits = splits or sources.load(config.data)
    self.charset = self.splits.charset
    train_x, _ = self.splits.train
    self.steps_per_epoch = batching.num_train_steps(len(train_x), config.batch_size)
    if self.steps_per_epoch == 0:
      raise ValueError(f"Only {len(train_x)} training examples: fewer than one "
                       f"batch of {config.batch_size}.")
    self.train_step = functools.partial(
        train_step, seed=config.seed, augmentation=config.augment,
        label_smoothing=config.label_smoothing)
    self._eval_step = jax.jit(eval_step)

  def init_state(self) -> TrainState:
    return create_train_state(self.config, self.splits.num_classes, self.steps_per_epoch)

  def train_batches(self, epoch: int, shard_index: int = 0, num_shards: int = 1,
                    start: int = 0):
    return batching.train_batches(*self.splits.train, self.config.batch_size,
                                  self.config.seed, epoch, shard_index, num_shards, start=start)

  def predict(self, state: TrainState, images: np.ndarray, mesh) -> np.ndarray:
    """Logits (N, K) for all images, batched and sharded like training."""
    return inference.classifier_logits(lambda image: self._eval_step(state, {"image": image}),
                                       images, self.config.eval_batch_size, mesh)

  def validate(self, state, mesh, train: dict) -> tuple[dict, float, str]:
    val = classification.classification_metrics(
        self.splits.validation[1], self.predict(state, self.splits.validation[0], mesh))
    record = {**{f"train_{k}": v for k, v in train.items()},
              **{f"val_{k}": v for k, v in val.items()}}
    summary = (f"train loss {train['loss']:.4f} acc {train['accuracy']:.4f} | val loss "
               f"{val['loss']:.4f} acc {val['accuracy']:.4f} top-5 {val['top5_accuracy']:.4f} "
               f"macro-F1 {val['macro_f1']:.4f} | {train['samples_per_second']:.0f} "
               f"samples/s, {100 * train['input_wait_fraction']:.1f} % waiting for input")
    return record, val["accuracy"], summary

  def write_files(self, workdir: str) -> None:
    vocabulary.write_class_counts(workdir, self.charset, self.splits.train[1])

  def describe(self) -> str:
    return (f"{len(self.splits.train[0]):,} train / {len(self.splits.validation[0]):,} "
            "validation examples")

  def evaluate(self, workdir: str) -> dict:
    return classification.evaluate_checkpoint(self.config, workdir, splits=self.splits)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint), then
  evaluates the best checkpoint; returns the final metrics."""
  return trainer.train_and_evaluate(ClassifierTask(config), workdir)

