"""The ink reader: per-point features of pen strokes (`preprocess/ink.py`) ->
frames of 4 consecutive points (a dense layer over their 16 features, then
1D convolutions over neighbouring frames) -> bidirectional LSTMs -> per-frame
scores over the characters plus the CTC blank (label 0).

The architecture of BLSTM + CTC online readers (Graves et al. 2009), with
frames of 4 points so the LSTMs run over a quarter of the sequence (their
cost is linear in it; IAM-OnDB has ~5 frames per character). Strided
convolutions over the points did the same 20x slower on XLA:CPU (1.15 vs
0.04 s per batch of 32 lines, measured with the LSTMs left out). LayerNorm
over channels keeps the model stateless and its output independent of how
far a batch is padded.
"""

import flax.linen as nn
import jax.numpy as jnp


class InkReader(nn.Module):
  num_labels: int                       # characters + 1 (blank = 0)
  conv_features: tuple = (128, 128)     # a dense layer over each frame, then convolutions
  lstm_features: int = 128
  lstm_layers: int = 3
  dropout_rate: float = 0.25
  points_per_frame: int = 4

  @nn.compact
  def __call__(self, points: jnp.ndarray, lengths: jnp.ndarray, train: bool = False):
    """points: (B, T, F) features, T a multiple of k = points_per_frame;
    lengths: (B,) valid frames (points // k). Returns logits (B, T // k,
    num_labels)."""
    b, t, f = points.shape
    k = self.points_per_frame
    x = points.reshape(b, t // k, k * f)       # one frame per k points
    for i, features in enumerate(self.conv_features):
      x = nn.Dense(features)(x) if i == 0 else nn.Conv(features, (3,), padding="SAME")(x)
      x = nn.relu(nn.LayerNorm()(x))
    for _ in range(self.lstm_layers):
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = nn.Bidirectional(nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)),
                           nn.RNN(nn.OptimizedLSTMCell(self.lstm_features)))(x, seq_lengths=lengths)
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(self.num_labels)(x)
