"""A trained model, ready to predict: parameters, config and charset restored
from a workdir's checkpoint, and jit-compiled forward passes.

  model = inference.load_model("runs/dev_byclass")        # 'best' checkpoint
  probs = model.classify(crops)                            # (n, 28, 28) uint8 -> (n, K)
  model = inference.load_model("runs/words")
  matrices = model.frame_probabilities(word_images)        # [(T_i, K + 1)], blank = 0

Only what prediction needs is loaded: the parameters (not the optimizer
state), restored as numpy arrays straight into the shapes the checkpoint
records, so nothing is traced or compiled to restore. Each forward pass is
compiled once per input shape it meets; batches are padded to a few shapes.
With `enable_compilation_cache()` (hwr-read calls it) compiled programs are
kept on disk, so a second process compiles nothing.

This module imports no training or evaluation code (no optimizer, no
scikit-learn, no matplotlib); training and evaluation import it.
"""

import dataclasses
import os

import jax
import numpy as np

from hwr_jax import checkpoints, models

ModelLoadError = checkpoints.ModelLoadError


def enable_compilation_cache(path: str | None = None) -> str | None:
  """Keeps JAX's compiled programs in `path` (default: `cache_dir()/jax`) so
  later processes load them instead of compiling. Leaves a cache the user
  configured alone. Returns the folder in use (None when it cannot be made)."""
  from hwr_jax import cache
  current = jax.config.jax_compilation_cache_dir
  if current:
    return current
  path = path or os.path.join(cache.cache_dir(), "jax")
  try:
    os.makedirs(path, exist_ok=True)
  except OSError:
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  # Cache every program: the readers' are small and compile in well under
  # the default 1 s threshold, which would keep them out.
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return path


@dataclasses.dataclass
class Model:
  """A restored model. `config` is the config that wrote the checkpoint."""
  config: object                # ml_collections.ConfigDict
  charset: str                  # class index -> character (CRNN: label i + 1)
  params: dict
  step: int
  epoch: int
  path: str                     # the checkpoint folder

  def __post_init__(self):
    self.name = self.config.model.name
    if self.name == "crnn":
      from hwr_jax.preprocess.word_input import InputGeometry
      self.geometry = InputGeometry.of(self.config)   # what the model reads
    elif self.name == "ink":
      from hwr_jax.preprocess.ink import InkGeometry
      self.geometry = InkGeometry.of(self.config)
    self._module = None
    # Compiled forward passes, pure functions of (params, input); each is
    # compiled on its first call for each input shape.
    self.logits_fn = jax.jit(   # classifier: uint8 images -> logits
        lambda params, images: self.module.apply({"params": params}, models.to_float(images)))
    # classifier: {'image'} -> (B, K); CRNN: {'image', 'length'} -> (B, T, K + 1);
    # ink: {'ink', 'length'} -> (B, T, K + 1)
    self.probabilities_fn = exported_probabilities(self) or jax.jit(self.probabilities)

  @property
  def module(self):
    """The flax module (made on first use: a reader whose forward pass comes
    from the cache folder never imports flax)."""
    if self._module is None:
      self._module = models.create_model(self.config, len(self.charset))
    return self._module

  def probabilities(self, params, batch):
    """The forward pass as probabilities (softmax), traced by jax.jit."""
    if self.name == "ink":
      args = (batch["ink"], batch["length"])
    else:
      images = models.to_float(batch["image"])
      args = (images, batch["length"]) if self.name == "crnn" else (images,)
    return jax.nn.softmax(self.module.apply({"params": params}, *args))

  # -- prediction -----------------------------------------------------------

  def logits(self, images: np.ndarray, batch_size: int = 1024, mesh=None) -> np.ndarray:
    """(N, 28, 28) uint8 images -> (N, K) classifier logits, in batches of
    `batch_size`, sharded over `mesh` (all hosts) when one is given."""
    self._expect("cnn")
    params = self.params
    if mesh is not None:
      from hwr_jax import parallel
      params = jax.device_put(params, parallel.replicated(mesh))
    return classifier_logits(lambda image: self.logits_fn(params, image), images, batch_size,
                             mesh)

  def classify(self, crops: np.ndarray) -> np.ndarray:
    """(n, 28, 28) uint8 crops (upright, ink bright) -> (n, K) probabilities.
    Batches are padded to a power of two (16 to 1024) so only a few shapes
    are ever compiled."""
    self._expect("cnn")
    out = []
    for start in range(0, len(crops), 1024):
      chunk = crops[start:start + 1024]
      size = max(16, 1 << (len(chunk) - 1).bit_length())
      padded = np.zeros((size, 28, 28), np.uint8)
      padded[:len(chunk)] = chunk
      out.append(np.asarray(self.probabilities_fn(self.params, {"image": padded}))[:len(chunk)])
    return np.concatenate(out) if out else np.zeros((0, len(self.charset)), np.float32)

  def frame_probabilities(self, images: list[np.ndarray], batch_size: int | None = None,
                          prepared: bool = False) -> list[np.ndarray]:
    """Word images (any size; gray or colour; either polarity; `prepared`:
    already model inputs, `preprocess.word_input.to_input`) -> one (T_i, K + 1)
    matrix of per-frame probabilities each (blank = 0)."""
    self._expect("crnn")
    if batch_size is None:   # small calls: the next power of two (8 .. eval batch)
      batch_size = min(self.config.eval_batch_size, max(8, 1 << (len(images) - 1).bit_length()))
    return word_probabilities(lambda batch: self.probabilities_fn(self.params, batch), images,
                              self.geometry, batch_size, prepared=prepared)

  def ink_frame_probabilities(self, points: list[np.ndarray], batch_size: int | None = None
                              ) -> list[np.ndarray]:
    """Lines of ink features (`preprocess.ink.normalize`) -> one (T_i, K + 1)
    matrix of per-frame probabilities each (blank = 0)."""
    self._expect("ink")
    if batch_size is None:
      # (no minimum: reading one line at batch 8 took 33 ms against 10 at batch 1)
      batch_size = min(self.config.eval_batch_size, 1 << (len(points) - 1).bit_length())
    return ink_probabilities(lambda batch: self.probabilities_fn(self.params, batch), points,
                             self.geometry, batch_size)

  def _expect(self, name: str) -> None:
    if self.name != name:
      raise ModelLoadError(f"{self.path} holds a {self.name!r} model, not a {name!r} model.")


EXPORT_FORMAT = 1


def exported_probabilities(model: Model):
  """`model.probabilities` as a compiled `jax.export` program with symbolic
  batch and width, kept in the cache folder (`cache_dir()/exported/`, keyed
  by the model's settings and code, charset size, parameter shapes, the JAX
  version and backend): a later process deserializes it instead of tracing the flax model
  (a second or more per model on 2 cores), and one program covers every
  batch and width. None (trace as usual) when no compilation cache is
  configured (`enable_compilation_cache`: the readers), with several devices,
  or when exporting fails."""
  import hashlib
  import json
  cache_dir = jax.config.jax_compilation_cache_dir
  if not cache_dir or jax.device_count() != 1:
    return None
  try:
    from jax import export
    import flatbuffers  # noqa: F401  (what serialization needs)
  except ImportError:
    return None
  config = model.config
  leaves = jax.tree_util.tree_flatten_with_path(model.params)[0]
  from hwr_jax import cache
  key = json.dumps([EXPORT_FORMAT, jax.__version__, jax.default_backend(), models_source(),
                    config.model.to_dict(),
                    config.get("words", {}).get("height"),
                    config.get("ink", {}).get("points_per_frame"), len(model.charset),
                    [(jax.tree_util.keystr(k), v.shape, str(v.dtype)) for k, v in leaves]],
                   sort_keys=True, default=str)
  path = os.path.join(cache.cache_dir(), "exported",
                      hashlib.sha256(key.encode()).hexdigest()[:24] + ".jaxexport")
  program = None
  try:
    with open(path, "rb") as f:
      program = export.deserialize(bytearray(f.read()))
  except Exception:   # noqa: BLE001 (absent, or written by another version: export again)
    program = None
  if program is None:
    try:
      program = export.export(jax.jit(model.probabilities))(
          jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype), model.params),
          symbolic_batch(model))
    except Exception:   # noqa: BLE001 (an op without shape polymorphism: trace as usual)
      return None
    try:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      with open(path + ".tmp", "wb") as f:
        f.write(program.serialize())
      os.replace(path + ".tmp", path)
    except OSError:
      pass
  return jax.jit(program.call)


def models_source() -> str:
  """A digest of the models' code: an exported program of older code is not reused."""
  import hashlib
  folder = os.path.dirname(models.__file__)
  digest = hashlib.sha256()
  for name in sorted(os.listdir(folder)):
    if name.endswith(".py"):
      with open(os.path.join(folder, name), "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()[:16]


def symbolic_batch(model: Model) -> dict:
  """The model's input batch with symbolic batch size and width (a multiple
  of what the model pools it by)."""
  import jax.numpy as jnp
  from jax import export
  if model.name == "cnn":
    (b,) = export.symbolic_shape("b")
    return {"image": jax.ShapeDtypeStruct((b, 28, 28), jnp.uint8)}
  b, w = export.symbolic_shape("b, w")
  if model.name == "crnn":
    step = model.geometry.columns_per_frame
    return {"image": jax.ShapeDtypeStruct((b, model.geometry.height, step * w), jnp.uint8),
            "length": jax.ShapeDtypeStruct((b,), jnp.int32)}
  from hwr_jax.preprocess.ink import NUM_FEATURES
  step = model.config.ink.points_per_frame
  return {"ink": jax.ShapeDtypeStruct((b, step * w, NUM_FEATURES), jnp.float32),
          "length": jax.ShapeDtypeStruct((b,), jnp.int32)}


def charset_of(config, meta: dict) -> str:
  """The checkpoint's charset; older checkpoints name only a label space."""
  from hwr_jax.data import labels
  if meta.get("charset"):
    return meta["charset"]
  if config.model.name == "crnn":
    return labels.BYCLASS_CHARS
  return labels.charset(config.data.label_space)


def load_model(workdir: str, checkpoint: str = "best", model_name: str | None = None,
               expect_config=None) -> Model:
  """Restores a workdir's checkpoint ('best', 'latest' or a step number), or
  the weights of an exported model folder (`checkpoints/exported.py`).
  `model_name`: refuse another kind of model ('cnn', 'crnn'); `expect_config`:
  refuse a checkpoint whose model or label space differs from this config."""
  import ml_collections
  if checkpoints.is_exported(workdir):   # a shipped model: one set of weights, no checkpoints
    params, meta = checkpoints.read_exported(workdir)
    path, step = workdir, meta["step"]
  else:
    path, step = checkpoints.find_checkpoint(workdir, checkpoint)
    params, meta = checkpoints.restore_params(path)
  config = ml_collections.ConfigDict(meta["config"])
  if model_name is not None and config.model.name != model_name:
    raise ModelLoadError(f"{workdir} holds a {config.model.name!r} model, not a "
                         f"{model_name!r} model.")
  if expect_config is not None:
    diffs = checkpoints.config_differences(meta["config"], expect_config.to_dict(),
                                           keys=checkpoints.MODEL_KEYS)
    if diffs:
      raise checkpoints.CheckpointMismatchError(
          f"The checkpoint in {path} was written with another model; these settings "
          f"differ (checkpoint -> now):\n" + "\n".join(diffs) +
          "\nEvaluate it with the config that trained it.")
  params = jax.device_put(params)
  return Model(config=config, charset=charset_of(config, meta), params=params, step=step,
               epoch=int(meta.get("epoch", 0)), path=path)


# -- batched prediction, shared with training and evaluation ----------------

def classifier_logits(logits_fn, images: np.ndarray, batch_size: int, mesh=None) -> np.ndarray:
  """Logits (N, K) of all images by `logits_fn(uint8 images) -> logits`, in
  padded batches of `batch_size`; with a mesh, each batch is sharded over it
  (and over hosts) as in training."""
  from hwr_jax import parallel
  from hwr_jax.data import batching
  if len(images) == 0:
    raise ValueError("No images to predict.")
  process, processes = (jax.process_index(), jax.process_count()) if mesh else (0, 1)

  def transfer(batch):
    image = parallel.host_to_global({"image": batch["image"]}, mesh)["image"] if mesh \
        else batch["image"]
    return batch["mask"], image

  logits, masks = [], []
  for mask, image in batching.prefetch(batching.eval_batches(
      images, np.zeros(len(images), np.int32), batch_size, process, processes), transfer):
    masks.append(mask)
    logits.append(logits_fn(image))
  # Several hosts: each mask covers this host's slice; gather them like the logits.
  logits, masks = parallel.global_to_host((logits, masks)) if mesh else \
      (jax.device_get(logits), masks)
  return np.concatenate(logits)[np.concatenate(masks)]


def word_probabilities(probs_fn, images: list[np.ndarray], geometry, batch_size: int,
                       mesh=None, prepared: bool = False) -> list[np.ndarray]:
  """(T_i, C) probability matrices for word images, by `probs_fn(batch) ->
  (B, T, C) probabilities` (batch: 'image', 'length'), at `geometry`
  (`preprocess.word_input.InputGeometry`). Images of similar aspect ratio are
  batched together (one width bucket each)."""
  from hwr_jax.data import word_batches
  return sequence_probabilities(
      probs_fn, images, lambda chunk: word_batches.make_batch(
          chunk, None, "", geometry, 1, prepared=prepared),
      lambda image: image.shape[1] / image.shape[0], batch_size, mesh)


def ink_probabilities(probs_fn, points: list[np.ndarray], geometry, batch_size: int,
                      mesh=None) -> list[np.ndarray]:
  """(T_i, C) probability matrices for lines of ink features
  (`preprocess.ink.normalize`), by `probs_fn(batch)` (batch: 'ink',
  'length'), at `geometry` (`preprocess.ink.InkGeometry`); lines of similar
  length are batched together."""
  from hwr_jax.data import ink_sources
  return sequence_probabilities(
      probs_fn, points, lambda chunk: ink_sources.make_batch(chunk, None, "", geometry, 1),
      len, batch_size, mesh)


def sequence_probabilities(probs_fn, items: list, make_batch, size, batch_size: int,
                           mesh=None) -> list[np.ndarray]:
  """(T_i, C) matrices of `items` (word images, lines of ink), sorted by
  `size(item)` so that each batch (`make_batch(items) -> {..., 'length'}`)
  needs little padding, every batch padded to `batch_size` so one program
  per bucket is compiled; with a mesh, sharded over it as in training."""
  from hwr_jax import parallel
  out = [None] * len(items)
  order = sorted(range(len(items)), key=lambda i: size(items[i]))
  for start in range(0, len(order), batch_size):
    index = order[start:start + batch_size]
    batch = make_batch([items[i] for i in index])
    lengths = batch["length"]
    for key in batch:   # pad to a full batch: one shape per bucket
      pad = np.zeros((batch_size - len(index),) + batch[key].shape[1:], batch[key].dtype)
      batch[key] = np.concatenate([batch[key], pad])
    if mesh is not None:
      probs = parallel.global_to_host(probs_fn(parallel.host_to_global(batch, mesh)))
    else:
      probs = jax.device_get(probs_fn(batch))
    for j, i in enumerate(index):
      out[i] = np.asarray(probs[j, :lengths[j]])
  return out
