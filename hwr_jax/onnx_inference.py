"""A model exported to ONNX (`hwr-export`), ready to predict with onnxruntime
alone: the part of `inference.Model`'s interface the readers use
(`frame_probabilities`, `ink_frame_probabilities`, `classify`), and nothing of
JAX, flax or orbax, so a server can read handwriting with only
`requirements-onnx.txt` installed.

  model = onnx_inference.load_model("iam-lines.onnx")   # + iam-lines.json beside it
  reader = CRNNReader("", model=model)                 # or hwr-read --onnx=iam-lines.onnx
"""

import json
import os

import numpy as np

from hwr_jax.checkpoints.errors import ModelLoadError

BATCH = 16   # sequences per onnxruntime call (sorted by size, so little padding)


class OnnxModel:
  def __init__(self, path: str):
    import ml_collections
    import onnxruntime
    sidecar = os.path.splitext(path)[0] + ".json"
    if not os.path.exists(path) or not os.path.exists(sidecar):
      raise ModelLoadError(f"{path} and {sidecar} are both needed (hwr-export writes them).")
    with open(sidecar) as f:
      info = json.load(f)
    self.path, self.name, self.charset = path, info["kind"], info["charset"]
    self.config = ml_collections.ConfigDict(info["config"])
    try:
      self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:   # noqa: BLE001 (onnxruntime raises its own kinds)
      raise ModelLoadError(f"{path} is not a readable ONNX model ({e}).") from None
    if self.name == "crnn":
      from hwr_jax.preprocess.word_input import InputGeometry
      self.geometry = InputGeometry.of(self.config)
    elif self.name == "ink":
      from hwr_jax.preprocess.ink import InkGeometry
      self.geometry = InkGeometry.of(self.config)

  def _sequences(self, items: list, size, make_batch, feed: str) -> list[np.ndarray]:
    """(T_i, K + 1) probabilities of each item, in batches of similar size."""
    out = [None] * len(items)
    order = sorted(range(len(items)), key=lambda i: size(items[i]))
    for start in range(0, len(order), BATCH):
      index = order[start:start + BATCH]
      batch = make_batch([items[i] for i in index])
      inputs = batch["ink"] if feed == "ink" else batch["image"]
      log_probs = self.session.run(None, {feed: inputs, "lengths": batch["length"]})[0]
      for j, i in enumerate(index):
        out[i] = np.exp(log_probs[j, :batch["length"][j]])
    return out

  def frame_probabilities(self, images: list[np.ndarray], batch_size: int | None = None,
                          prepared: bool = False) -> list[np.ndarray]:
    """As `inference.Model.frame_probabilities` (word and line models)."""
    from hwr_jax.data import word_batches
    return self._sequences(
        images, lambda im: im.shape[1] / im.shape[0],
        lambda chunk: word_batches.make_batch(chunk, None, "", self.geometry, 1,
                                              prepared=prepared), "images")

  def ink_frame_probabilities(self, points: list[np.ndarray], batch_size: int | None = None
                              ) -> list[np.ndarray]:
    """As `inference.Model.ink_frame_probabilities`."""
    from hwr_jax.data import ink_sources
    return self._sequences(points, len, lambda chunk: ink_sources.make_batch(
        chunk, None, "", self.geometry, 1), "ink")

  def classify(self, crops: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 crops -> (n, K) probabilities."""
    if len(crops) == 0:
      return np.zeros((0, len(self.charset)), np.float32)
    return np.exp(self.session.run(None, {"images": np.asarray(crops, np.uint8)})[0])


def load_model(path: str) -> OnnxModel:
  return OnnxModel(path)
