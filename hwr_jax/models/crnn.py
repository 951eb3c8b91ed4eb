"""CRNN word reader: convolutional backbone -> one feature vector per column
-> bidirectional LSTM(s) -> per-column scores over the characters plus the
CTC blank (label 0). Every backbone downsamples width by 4 (a frame per 4
input columns).

Backbones (`model.backbone`):
  'emnist'  two conv blocks with the same shapes (and parameter names) as the
            character CNN's, so they can start from a trained classifier;
            made for words of EMNIST glyphs (input height 24).
  'htr'     a deeper VGG-style stack for real handwriting (input height 32+):
            six 3x3 convolutions (`backbone_features`), each followed by a
            per-pixel LayerNorm and ReLU; pooling halves width twice and height
            four times. LayerNorm over channels only (not BatchNorm) keeps the
            model stateless and its output independent of how far a batch is
            padded.
"""

import flax.linen as nn
import jax.numpy as jnp

from hwr_jax.models.layers import ConvBlock, max_pool_2x1, max_pool_2x2
from hwr_jax.preprocess.word_input import COLUMNS_PER_FRAME

BACKBONES = ("emnist", "htr")


class HTRBackbone(nn.Module):
  """(B, H, W, 1) -> (B, H / 16, W / 4, 256); see the module docstring."""
  features: tuple = (32, 64, 128, 128, 256, 256)

  @nn.compact
  def __call__(self, x):
    pools = (max_pool_2x2, max_pool_2x2, None, max_pool_2x1, None, max_pool_2x1)
    for features, pool in zip(self.features, pools):
      x = nn.Conv(features, (3, 3), padding="SAME", use_bias=False)(x)
      x = nn.relu(nn.LayerNorm()(x))
      if pool is not None:
        x = pool(x)
    return x


class CRNN(nn.Module):
  num_labels: int             # characters + 1 (blank = 0)
  lstm_features: int = 128
  conv_features: int = 64
  dense_features: int = 128
  dropout_rate: float = 0.25
  backbone: str = "emnist"
  backbone_features: tuple = (32, 64, 128, 128, 256, 256)   # 'htr': per convolution
  lstm_layers: int = 1

  @nn.compact
  def __call__(self, images: jnp.ndarray, lengths: jnp.ndarray, train: bool = False):
    """images: (B, H, W, 1) in [0, 1], ink bright; lengths: (B,) valid
    frames (columns // 4). Returns logits (B, W // 4, num_labels)."""
    if self.backbone == "emnist":
      x = ConvBlock(32, name="ConvBlock_0")(images)          # (B, H/2, W/2, 32)
      x = ConvBlock(64, name="ConvBlock_1")(x)               # (B, H/4, W/4, 64)
      x = nn.relu(nn.Conv(self.conv_features, (3, 3), padding="SAME")(x))
    elif self.backbone == "htr":
      x = HTRBackbone(tuple(self.backbone_features))(images)                              # (B, H/16, W/4, 256)
    else:
      raise ValueError(f"Unknown backbone {self.backbone!r} (known: {', '.join(BACKBONES)}).")
    b, h, w, c = x.shape
    x = x.transpose(0, 2, 1, 3).reshape(b, w, h * c)       # one feature vector per column
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.relu(nn.Dense(self.dense_features)(x))
    for _ in range(self.lstm_layers):
      x = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)),
                           nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)))(x, seq_lengths=lengths)
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_labels)(x)


def output_length(width: int) -> int:
  """Frames the model emits for an image `width` columns wide."""
  return width // COLUMNS_PER_FRAME
