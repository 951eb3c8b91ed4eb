"""Training the CRNN word reader with CTC on synthesized words.

Same machinery as the classifiers (`train.py`): a pure jitted step, data
parallel over a mesh, orbax checkpoints with resume, metrics.jsonl, progress
bar. Words are synthesized on the fly in a background thread from the
training glyphs; validation words come from held-out glyphs.
"""

import functools
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

from hwr_jax import checkpoints, metrics, parallel, train
from hwr_jax.ctc.decode import TextDecoder
from hwr_jax.data import batching, labels as label_maps, word_batches, word_sources
from hwr_jax.models.crnn import CRNN, HEIGHT


def create_model(config, charset: str) -> CRNN:
  return CRNN(num_labels=len(charset) + 1, lstm_features=config.model.lstm_features,
              conv_features=config.model.conv_features,
              dense_features=config.model.dense_features,
              dropout_rate=config.model.dropout_rate)


def create_train_state(config, charset: str) -> train.TrainState:
  model = create_model(config, charset)
  width = config.words.buckets[0]
  params = jax.jit(model.init)(jax.random.key(config.seed), jnp.zeros((1, HEIGHT, width, 1)),
                               jnp.array([width // 4]))["params"]
  if config.get("init_from"):
    params = init_from_classifier(params, config.init_from)
  tx = optax.chain(optax.clip_by_global_norm(config.gradient_clip),
                   train.make_optimizer(config, config.words.steps_per_epoch))
  return train.TrainState.create(apply_fn=model.apply, params=params, tx=tx)


def init_from_classifier(params: dict, workdir: str) -> dict:
  """Copies the conv blocks of a trained character CNN (same shapes) into the CRNN."""
  config = checkpoints.load_workdir_config(workdir)
  if config is None:
    raise FileNotFoundError(f"init_from: {workdir} holds no config.json of a trained classifier.")
  charset = label_maps.charset(config.data.label_space)
  cnn_state = train.create_train_state(config, len(charset), 1)
  cnn_state, _ = checkpoints.restore_for_inference(workdir, config.to_dict(), cnn_state)
  params = dict(params)
  for block in ("ConvBlock_0", "ConvBlock_1"):
    params[block] = cnn_state.params[block]
  return params


def ctc_loss(logits, batch):
  frames = jnp.arange(logits.shape[1])[None, :]
  logit_padding = (frames >= batch["length"][:, None]).astype(jnp.float32)
  return optax.ctc_loss(logits, logit_padding, batch["label"], batch["label_padding"])


def train_step(state, batch, *, config):
  key = jax.random.fold_in(jax.random.key(config.seed), state.step)
  images = train.preprocess(batch["image"])

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, images, batch["length"], train=True,
                            rngs={"dropout": key})
    return ctc_loss(logits, batch).mean()

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  return state.apply_gradients(grads=grads), {"loss": loss}


def predict_step(state, batch):
  logits = state.apply_fn({"params": state.params}, train.preprocess(batch["image"]),
                          batch["length"])
  return jax.nn.softmax(logits)


class WordData:
  """Training batches from a word source (`data/word_sources.py`), made in a
  background thread; a fixed validation set."""

  def __init__(self, config):
    self.config = config
    self.charset = label_maps.BYCLASS_CHARS
    self.source = word_sources.create(config)
    self.val_images, self.val_texts = self.source.validation

  def train_batches(self, epoch: int, shard_index: int = 0, num_shards: int = 1):
    config = self.config
    rng = np.random.default_rng([config.seed, epoch, shard_index])
    local = config.batch_size // num_shards
    for _ in range(config.words.steps_per_epoch):
      images, texts = self.source.sample(local, rng)
      yield word_batches.make_batch(images, texts, self.charset, config.words.buckets,
                                    config.words.max_label_length)


def predict_probs(state, predict, images, config, mesh, batch_size=None) -> list[np.ndarray]:
  """(T_i, C) probability matrices for word images, batched by bucket
  (images of similar width together); batches padded to `batch_size`."""
  out = [None] * len(images)
  order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
  size = batch_size or config.eval_batch_size
  for start in range(0, len(order), size):
    index = order[start:start + size]
    batch = word_batches.make_batch([images[i] for i in index], None, "",
                                    config.words.buckets, config.words.max_label_length)
    n = len(index)
    for key in batch:   # pad to a full batch: one shape per bucket
      pad = np.zeros((size - n,) + batch[key].shape[1:], batch[key].dtype)
      batch[key] = np.concatenate([batch[key], pad])
    probs = np.asarray(parallel.global_to_host(
        predict(state, parallel.host_to_global(batch, mesh))))
    for j, i in enumerate(index):
      out[i] = probs[j, :batch["length"][j]]
  return out


def train_and_evaluate(config, workdir: str) -> dict:
  os.makedirs(workdir, exist_ok=True)
  data = WordData(config)
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, "eval_batch_size")
  step_fn = jax.jit(functools.partial(train_step, config=config), donate_argnums=0)
  predict = jax.jit(predict_step)
  state = create_train_state(config, data.charset)
  store = checkpoints.CheckpointStore(workdir, config.to_dict())
  state, meta = store.restore(state, "latest")
  start_epoch = meta["epoch"] if meta else 0
  best_cer = meta["best_val_cer"] if meta else math.inf
  train_seconds = meta.get("train_seconds", 0.0) if meta else 0.0
  if meta:
    train.log(f"Resuming from {workdir} after epoch {start_epoch}.")
  state = jax.device_put(state, parallel.replicated(mesh))
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  train.truncate_jsonl(metrics_path, start_epoch)
  checkpoints.save_workdir_config(workdir, config)
  decoder = TextDecoder(data.charset)
  steps = config.words.steps_per_epoch
  try:
    for epoch in range(start_epoch, config.num_epochs):
      start, total = time.perf_counter(), 0.0
      bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.num_epochs}",
                 disable=jax.process_index() != 0, unit="step", dynamic_ncols=True)
      batches = batching.prefetch(
          data.train_batches(epoch, jax.process_index(), jax.process_count()),
          lambda b: parallel.host_to_global(b, mesh))
      for i, batch in enumerate(batches):
        state, step_metrics = step_fn(state, batch)
        total = total + step_metrics["loss"]
        if (i + 1) % config.log_every_steps == 0 or i + 1 == steps:
          mean = float(total) / (i + 1)
          if not math.isfinite(mean):
            raise train.TrainingDivergedError(
                f"The CTC loss became {mean} in epoch {epoch + 1}; the last checkpoint is "
                "intact. Lower --config.learning_rate and run again to resume.")
          bar.set_postfix(loss=f"{mean:.3f}")
        bar.update(1)
      bar.close()
      epoch_seconds = time.perf_counter() - start
      train_seconds += epoch_seconds
      probs = predict_probs(state, predict, data.val_images, config, mesh)
      hypotheses = [decoder.best_path(p[None])[0] for p in probs]
      val = metrics.text_error_rates(data.val_texts, hypotheses)
      is_best = val["cer"] < best_cer
      best_cer = min(best_cer, val["cer"])
      record = {"epoch": epoch + 1, "step": int(jax.device_get(state.step)),
                "train_loss": float(total) / steps, "train_seconds": train_seconds,
                "words_per_second": steps * config.batch_size / epoch_seconds,
                **{f"val_{k}": v for k, v in val.items()}, "best_val_cer": best_cer}
      train.append_jsonl(metrics_path, record)
      train.log(f"epoch {epoch + 1}/{config.num_epochs}  train CTC loss {record['train_loss']:.3f} | "
                f"val CER {100 * val['cer']:.1f} % WER {100 * val['wer']:.1f} % (best path) | "
                f"{record['words_per_second']:.0f} words/s{'  (best)' if is_best else ''}")
      store.save(state, {"epoch": epoch + 1, "best_val_cer": best_cer,
                         "train_seconds": train_seconds}, is_best)
  finally:
    store.wait()
    store.close()
  return record if config.num_epochs > start_epoch else {}
