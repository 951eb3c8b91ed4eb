"""CRNN word reader: convolutional backbone -> column features ->
bidirectional LSTM -> per-column scores over the characters plus the CTC
blank (label 0).

The first two conv blocks have the same shapes (and parameter names) as the
character CNN's, so they can start from a trained classifier's weights.
"""

import flax.linen as nn
import jax.numpy as jnp

from hwr_jax.models.layers import ConvBlock

HEIGHT = 24          # input image height
DOWNSAMPLE = 4       # input columns per output frame


class CRNN(nn.Module):
  num_labels: int             # characters + 1 (blank = 0)
  lstm_features: int = 128
  conv_features: int = 64
  dense_features: int = 128
  dropout_rate: float = 0.25

  @nn.compact
  def __call__(self, images: jnp.ndarray, lengths: jnp.ndarray, train: bool = False):
    """images: (B, 24, W, 1) in [0, 1], ink bright; lengths: (B,) valid
    frames (columns // 4). Returns logits (B, W // 4, num_labels)."""
    x = ConvBlock(32, name="ConvBlock_0")(images)          # (B, 12, W/2, 32)
    x = ConvBlock(64, name="ConvBlock_1")(x)               # (B, 6, W/4, 64)
    x = nn.relu(nn.Conv(self.conv_features, (3, 3), padding="SAME")(x))
    b, h, w, c = x.shape
    x = x.transpose(0, 2, 1, 3).reshape(b, w, h * c)       # one feature vector per column
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.relu(nn.Dense(self.dense_features)(x))
    x = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)),
                         nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)))(x, seq_lengths=lengths)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_labels)(x)


def output_length(width: int) -> int:
  """Frames the model emits for an image `width` columns wide."""
  return width // DOWNSAMPLE
