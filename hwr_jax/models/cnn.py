"""The character classifier: a small VGG-style CNN for 28x28 glyphs.

With the default widths (32, 64) and a 128-unit dense layer it has about
470K (47 classes) to 474K (62 classes) parameters, the size of the published
EMNIST baselines.
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from hwr_jax.models.layers import ConvBlock


class CharacterCNN(nn.Module):
  """Conv(w)x2-Pool-Conv(2w)x2-Pool-Dense-Dropout-Dense -> logits."""
  num_classes: int
  block_features: Sequence[int] = (32, 64)
  dense_features: int = 128
  dropout_rate: float = 0.25

  @nn.compact
  def __call__(self, images: jnp.ndarray, train: bool = False) -> jnp.ndarray:
    """images: (B, 28, 28, 1) float in [0, 1], upright, ink bright."""
    x = images
    for features in self.block_features:
      x = ConvBlock(features)(x)
    x = x.reshape(x.shape[0], -1)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.relu(nn.Dense(self.dense_features)(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_classes)(x)
