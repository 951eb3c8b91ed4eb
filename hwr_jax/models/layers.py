"""Building blocks shared by the character CNN and the word CRNN."""

import flax.linen as nn
import jax.numpy as jnp


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
  """2x2 max pooling, stride 2, on NHWC input with even H and W.

  Written as reshape + max rather than `nn.max_pool`: same values, but the
  backward pass of `reduce_window` is several times slower on XLA:CPU.
  """
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class ConvBlock(nn.Module):
  """`num_convs` 3x3 'SAME' convolutions with ReLU, then 2x2 max pooling."""
  features: int
  num_convs: int = 2

  @nn.compact
  def __call__(self, x):
    for _ in range(self.num_convs):
      x = nn.relu(nn.Conv(self.features, (3, 3), padding="SAME")(x))
    return max_pool_2x2(x)
