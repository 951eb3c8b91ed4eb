"""Flax (linen) models, and the one place that maps a config to a model.

  create_model(config, num_chars)  the module a config names ('cnn' | 'crnn' | 'ink')
  init_inputs(config)            example inputs for `module.init` / `jax.eval_shape`
  to_float(images)               uint8 (B, H, W) -> float32 (B, H, W, 1) in [0, 1]
"""

import jax.numpy as jnp
import numpy as np

MODEL_NAMES = ("cnn", "crnn", "ink")


def to_float(images: jnp.ndarray) -> jnp.ndarray:
  """uint8 (B, H, W) -> float32 (B, H, W, 1) in [0, 1]; runs on device."""
  return images.astype(jnp.float32)[..., None] / 255.0


def create_model(config, num_chars: int):
  """The flax module of `config.model` for a model of `num_chars` characters
  (a classifier's classes; a CRNN adds the CTC blank, label 0)."""
  name = config.model.name
  if name == "cnn":
    from hwr_jax.models.cnn import CharacterCNN
    return CharacterCNN(num_classes=num_chars,
                        block_features=tuple(config.model.block_features),
                        dense_features=config.model.dense_features,
                        dropout_rate=config.model.dropout_rate)
  if name == "crnn":
    from hwr_jax.models.crnn import CRNN
    return CRNN(num_labels=num_chars + 1, lstm_features=config.model.lstm_features,
                conv_features=config.model.conv_features,
                dense_features=config.model.dense_features,
                dropout_rate=config.model.dropout_rate,
                backbone=config.model.get("backbone", "emnist"),
                backbone_features=tuple(config.model.get("backbone_features",
                                                         (32, 64, 128, 128, 256, 256))),
                lstm_layers=config.model.get("lstm_layers", 1))
  if name == "ink":
    from hwr_jax.models.ink import InkReader
    return InkReader(num_labels=num_chars + 1, conv_features=tuple(config.model.conv_features),
                     lstm_features=config.model.lstm_features,
                     lstm_layers=config.model.lstm_layers,
                     dropout_rate=config.model.dropout_rate,
                     points_per_frame=config.ink.get("points_per_frame", 4))
  raise ValueError(f"Unknown model {name!r} (known: {', '.join(MODEL_NAMES)}).")


def init_inputs(config) -> tuple:
  """Inputs of the shapes `create_model(config, n).init` is traced with."""
  if config.model.name == "crnn":
    from hwr_jax.preprocess.word_input import InputGeometry
    geometry = InputGeometry.of(config)
    width = geometry.buckets[0]
    return (np.zeros((1, geometry.height, width, 1), np.float32),
            np.array([geometry.frames(width)], np.int32))
  if config.model.name == "ink":
    from hwr_jax.preprocess.ink import NUM_FEATURES, InkGeometry
    geometry = InkGeometry.of(config)
    points = geometry.buckets[0]
    return (np.zeros((1, points, NUM_FEATURES), np.float32),
            np.array([geometry.frames(points)], np.int32))
  return (np.zeros((1, 28, 28, 1), np.float32),)
