"""Training the CRNN word reader with CTC, on synthesized or real words.

The machinery is the classifiers' (`train_loop.py`): a pure jitted step, data
parallel over a mesh, orbax checkpoints with resume, metrics.jsonl, progress
bar. Training batches come from a word source (`data/word_sources.py`),
made in a background thread; validation uses its fixed validation set.
"""

import functools

import jax
import jax.numpy as jnp
import optax

from hwr_jax import inference, metrics, models, parallel
from hwr_jax.ctc.decode import TextDecoder
from hwr_jax.data import batching, vocabulary, word_sources
from hwr_jax.train_loop import Run, TrainState, log, make_optimizer, run_epoch


def create_train_state(config, charset: str, steps_per_epoch: int) -> TrainState:
  model = models.create_model(config, len(charset))
  params = jax.jit(model.init)(jax.random.key(config.seed), *models.init_inputs(config))["params"]
  if config.get("init_from"):
    params = init_from_classifier(params, config.init_from)
  return TrainState.create(apply_fn=model.apply, params=params,
                           tx=make_optimizer(config, steps_per_epoch))


def init_from_classifier(params: dict, workdir: str) -> dict:
  """Copies the conv blocks of a trained character CNN (same shapes) into the CRNN."""
  try:
    classifier = inference.load_model(workdir, model_name="cnn")
  except inference.ModelLoadError as e:
    raise FileNotFoundError(f"init_from: {e}") from None
  params = dict(params)
  for block in ("ConvBlock_0", "ConvBlock_1"):
    params[block] = classifier.params[block]
  return params


def ctc_loss(logits, batch):
  frames = jnp.arange(logits.shape[1])[None, :]
  logit_padding = (frames >= batch["length"][:, None]).astype(jnp.float32)
  return optax.ctc_loss(logits, logit_padding, batch["label"], batch["label_padding"])


def train_step(state, batch, *, config):
  key = jax.random.fold_in(jax.random.key(config.seed), state.step)
  images = models.to_float(batch["image"])

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, images, batch["length"], train=True,
                            rngs={"dropout": key})
    return ctc_loss(logits, batch).mean()

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  return state.apply_gradients(grads=grads), {"loss": loss}


def predict_step(state, batch):
  logits = state.apply_fn({"params": state.params}, models.to_float(batch["image"]),
                          batch["length"])
  return jax.nn.softmax(logits)


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint); the best
  checkpoint is the one with the lowest validation CER (best path). Returns
  the last epoch's record."""
  data = word_sources.create(config)
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, "eval_batch_size")
  step_fn = jax.jit(functools.partial(train_step, config=config), donate_argnums=0)
  predict = jax.jit(predict_step)
  steps = data.steps_per_epoch
  if isinstance(data, word_sources.LabeledWords) and jax.process_index() == 0:
    vocabulary.write(workdir, data.training_vocabulary())
  run = Run(config, workdir, create_train_state(config, data.charset, steps), data.charset,
            best_key="best_val_cer", higher_is_better=False)
  state = jax.device_put(run.state, parallel.replicated(mesh))
  decoder = TextDecoder(data.charset)
  val_images, val_texts = data.validation
  try:
    for epoch in run.epochs():
      batches = batching.prefetch(
          data.train_batches(epoch, jax.process_index(), jax.process_count(),
                             start=run.first_step(epoch)),
          lambda b: parallel.host_to_global(b, mesh))
      state, train_metrics = run_epoch(step_fn, state, batches, steps, epoch, config,
                                       what="CTC loss", run=run)
      probs = inference.word_probabilities(
          lambda batch: predict(state, batch), val_images, config.words.buckets,
          config.eval_batch_size, mesh, prepared=True)
      hypotheses = [decoder.best_path(p[None])[0] for p in probs]
      val = metrics.text_error_rates(val_texts, hypotheses)
      record = {"train_loss": train_metrics["loss"],
                "words_per_second": train_metrics["samples_per_second"],
                "input_wait_fraction": train_metrics["input_wait_fraction"],
                **({"train_diverged": True} if train_metrics.get("diverged") else {}),
                **{f"val_{k}": v for k, v in val.items()}}
      is_best = run.end_epoch(state, epoch, record, val["cer"], train_metrics["epoch_seconds"])
      log(f"epoch {epoch + 1}/{config.num_epochs}  train CTC loss {record['train_loss']:.3f} | "
          f"val CER {100 * val['cer']:.1f} % WER {100 * val['wer']:.1f} % (best path) | "
          f"{record['words_per_second']:.0f} words/s, "
          f"{100 * record['input_wait_fraction']:.1f} % waiting for input"
          f"{'  (best)' if is_best else ''}")
  finally:
    run.close()
  return run.last_record
