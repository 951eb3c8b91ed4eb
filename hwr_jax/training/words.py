"""Training the CRNN word reader with CTC, on synthesized or real words: the
task `trainer.py` runs. Training batches come from a word source
(`data/word_sources.py`), made in a background thread; validation reads its
fixed validation set with best-path decoding; the best checkpoint is the one
with the lowest validation CER.
"""

import functools

import jax
import jax.numpy as jnp
import optax

from hwr_jax import inference, models
from hwr_jax.ctc.text_decoder import TextDecoder
from hwr_jax.data import vocabulary, word_sources
from hwr_jax.evaluators import text
from hwr_jax.preprocess import augment
from hwr_jax.preprocess.word_input import InputGeometry
from hwr_jax.training import trainer
from hwr_jax.training.optimizer import TrainState, make_optimizer


def create_train_state(config, charset: str, steps_per_epoch: int, base=None) -> TrainState:
  """A fresh state; `base` (a word model of the same kind, `fine_tuning_base`)
  or a character CNN's workdir (`config.init_from`) gives starting weights."""
  model = models.create_model(config, len(charset))
  params = jax.jit(model.init)(jax.random.key(config.seed), *models.init_inputs(config))["params"]
  if base is not None:
    params = start_from(params, base, charset)
  elif config.get("init_from"):
    params = init_from_classifier(params, config.init_from)
  return TrainState.create(apply_fn=model.apply, params=params,
                           tx=make_optimizer(config, steps_per_epoch))


def fine_tuning_base(config):
  """The model `config.init_from` names when it is a model of this config's
  kind (a workdir or a pretrained model's name: fine-tuning), else None (a
  character CNN's workdir, or nothing). A model of another architecture or
  input geometry is refused, naming what differs."""
  from hwr_jax import checkpoints, pretrained
  source = config.get("init_from")
  if not source:
    return None
  source = pretrained.folder(source)
  saved = checkpoints.load_workdir_config(source)
  if saved is None:
    raise FileNotFoundError(f"init_from: {source} holds no trained model (no config.json).")
  if saved.model.name != config.model.name:
    if saved.model.name == "cnn" and config.model.get("backbone", "emnist") == "emnist":
      return None   # a character CNN: init_from_classifier copies its conv blocks
    raise ValueError(f"init_from: {source} holds a {saved.model.name!r} model; this config "
                     f"trains a {config.model.name!r} model.")
  keys = [k for k in checkpoints.MODEL_KEYS if k.startswith("model")] + \
      ["words.height", "ink.points_per_frame"]
  diffs = checkpoints.config_differences(saved.to_dict(), config.to_dict(), keys=keys)
  if diffs:
    raise ValueError(f"init_from: {source} was trained with other settings (its -> this "
                     "config's):\n" + "\n".join(diffs) + "\nFine-tune with the config "
                     "that trained it.")
  return inference.load_model(source)


def start_from(params: dict, base, charset: str) -> dict:
  """`base`'s parameters in a model of `charset` (which starts with base's
  charset: `fine_tuning_charset`): every layer copied; the output layer's
  rows of base's characters (and the blank) copied, a new character's row
  kept as initialized."""
  import numpy as np
  old = base.params
  k_old, k_new = len(base.charset) + 1, len(charset) + 1

  def merge(new, previous, path):
    if isinstance(new, dict):
      missing = set(new) - set(previous)
      if missing:
        raise ValueError(f"init_from: {path} lacks {sorted(missing)}: another architecture.")
      return {k: merge(v, previous[k], f"{path}/{k}") for k, v in new.items()}
    new, previous = np.asarray(new), np.asarray(previous)
    if new.shape == previous.shape:
      return previous
    if new.shape[:-1] == previous.shape[:-1] and (previous.shape[-1], new.shape[-1]) == (k_old,
                                                                                         k_new):
      return np.concatenate([previous, new[..., k_old:]], -1)   # the output layer
    raise ValueError(f"init_from: {path} has shape {previous.shape} there, {new.shape} here.")
  return merge(jax.device_get(params), old, "params")


def fine_tuning_charset(base_charset: str, data_charset: str) -> str:
  """The base model's characters, then the new ones of the data (each new
  character gets a new output row)."""
  return base_charset + "".join(sorted(set(data_charset) - set(base_charset)))


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


def model_input(batch):
  """What the model reads of a batch: word images (uint8 -> float) or ink
  features ('ink')."""
  return batch["ink"] if "ink" in batch else models.to_float(batch["image"])


def train_step(state, batch, *, seed: int, augment_ink: bool = False):
  """One Adam step of CTC loss on one batch (word images, or lines of ink:
  `augment_ink` distorts them first). Pure; jit-compiled by the caller."""
  key = jax.random.fold_in(jax.random.key(seed), state.step)
  inputs = model_input(batch)
  if augment_ink:
    inputs = augment.random_ink_affine(jax.random.fold_in(key, 1), inputs)

  def loss_fn(params):
    logits = state.apply_fn({"params": params}, inputs, batch["length"], train=True,
                            rngs={"dropout": key})
    return ctc_loss(logits, batch).mean()

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  return state.apply_gradients(grads=grads), {"loss": loss}


def predict_step(state, batch):
  logits = state.apply_fn({"params": state.params}, model_input(batch), batch["length"])
  return jax.nn.softmax(logits)


class WordTask:
  """A CRNN reading the words of `word_sources.create(config)`."""
  best_key, higher_is_better, what = "best_val_cer", False, "CTC loss"
  unit = "words"

  def __init__(self, config, data=None):
    self.config = config
    self.data = data or word_sources.create(config)
    self.base = fine_tuning_base(config)
    if self.base is not None:   # fine-tuning: the base model's outputs, and any new characters
      self.data.charset = fine_tuning_charset(self.base.charset, self.data.charset)
    self.charset = self.data.charset
    self.steps_per_epoch = self.data.steps_per_epoch
    self.train_step = functools.partial(train_step, seed=config.seed)
    self.train_batches = self.data.train_batches
    self._predict = jax.jit(predict_step)
    self._decoder = TextDecoder(self.charset)

  def init_state(self) -> TrainState:
    return create_train_state(self.config, self.charset, self.steps_per_epoch, self.base)

  def validate(self, state, mesh, train: dict) -> tuple[dict, float, str]:
    inputs, texts = self.data.validation
    probs = self.probabilities(lambda batch: self._predict(state, batch), inputs, mesh)
    val = text.text_error_rates(texts, [self._decoder.best_path(p[None])[0] for p in probs])
    record = {"train_loss": train["loss"], f"{self.unit}_per_second": train["samples_per_second"],
              "input_wait_fraction": train["input_wait_fraction"],
              **({"train_diverged": True} if train.get("diverged") else {}),
              **{f"val_{k}": v for k, v in val.items()}}
    summary = (f"train CTC loss {train['loss']:.3f} | val CER {100 * val['cer']:.1f} % WER "
               f"{100 * val['wer']:.1f} % (best path) | {train['samples_per_second']:.0f} "
               f"{self.unit}/s, {100 * train['input_wait_fraction']:.1f} % waiting for input")
    return record, val["cer"], summary

  def probabilities(self, probs_fn, images, mesh) -> list:
    return inference.word_probabilities(probs_fn, images, InputGeometry.of(self.config),
                                        self.config.eval_batch_size, mesh, prepared=True)

  def write_files(self, workdir: str) -> None:
    """The training words (the reader's lexicon) and, for line sources, the
    training lines a word language model may hold."""
    if hasattr(self.data, "training_vocabulary"):
      vocabulary.write(workdir, self.data.training_vocabulary())
    language = getattr(self.data, "language_lines", lambda: None)()
    if language is not None:
      vocabulary.write_lm_lines(workdir, language[0])
      print(f"{len(language[0])} training lines for language models ({language[1]})")

  def describe(self) -> str:
    # What it reads is in its validation texts (a word model fine-tuned from a
    # line model keeps the space in its charset).
    texts = self.data.validation[1]
    kind = "lines" if 2 * sum(" " in t for t in texts) > len(texts) else "words"
    return (f"{self.config.words.source} {kind}, {len(self.charset)} characters, "
            f"{len(self.data.validation[0]):,} validation {kind}")

  def evaluate(self, workdir: str) -> dict:
    """The best checkpoint on the test split, best path (`--mode=evaluate`
    reads with every decoder)."""
    return text.evaluate_checkpoint(self.config, workdir, decoders=("best_path",),
                                    loaded=self.data)


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains (resuming from `workdir` when it holds a checkpoint), then
  evaluates the best checkpoint; returns the evaluation's results."""
  return trainer.train_and_evaluate(WordTask(config), workdir)
