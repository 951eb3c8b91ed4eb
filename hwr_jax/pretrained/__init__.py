"""Pretrained models shipped in the package, chosen by name.

Each model is a folder here (`checkpoints/exported.py`: safetensors weights,
its config, the vocabulary and language-model lines it reads with, sha256
sums checked on load) with a model card, MODEL.md: data and split, the
command that trained it, measured results with the command that measured
them, speed, and the licence terms of its training data. `model.json` holds
the one-line summary `hwr-read --list-models` prints and the decoder
`hwr-read` reads with when none is given.

  hwr_jax.load_reader("ondb-lines")          # by name, like a workdir
  hwr-read note.inkml                        # the default model of each input kind
  hwr-read --list-models

Models are written by `python -m hwr_jax.pretrained.publish` from a
training run's workdir.
"""

import json
import os

from hwr_jax.checkpoints import ModelLoadError, is_exported

FOLDER = os.path.dirname(os.path.abspath(__file__))
# The default model of each kind of input, the first one shipped of each list.
# hwr-read gives an image of several lines of writing to the page model.
DEFAULTS = {"image": ("iam-words", "iam-lines"), "page": ("iam-lines",), "ink": ("ondb-lines",)}


def names() -> list[str]:
  """The shipped models' names, sorted."""
  return sorted(n for n in os.listdir(FOLDER) if is_exported(os.path.join(FOLDER, n)))


def find(name: str) -> str:
  """The folder of the model `name`; ModelLoadError listing the known names."""
  known = names()
  if name not in known:
    raise ModelLoadError(f"No pretrained model {name!r}; the models are: "
                         f"{', '.join(known) or 'none'} (hwr-read --list-models).")
  return os.path.join(FOLDER, name)


def folder(source: str) -> str:
  """A model folder as given (a workdir, an exported model's folder), or a
  pretrained model's name -> its folder (`find`)."""
  if os.path.exists(source) or os.sep in source or "/" in source:
    return source
  return find(source)


def summary(name: str) -> dict:
  """The model's model.json: task, data and its headline result."""
  with open(os.path.join(find(name), "model.json")) as f:
    return json.load(f)


def default_for(kind: str) -> str:
  """The name of the default model for 'image', 'page' or 'ink' input."""
  known = names()
  for name in DEFAULTS[kind]:
    if name in known:
      return name
  raise ModelLoadError(f"No pretrained model reads {kind} input in this installation; give "
                       "--workdir of a trained model.")


def default_decoder(folder: str) -> str:
  """The decoder `hwr-read` uses for the model in `folder` when none is given:
  a pretrained model's chosen one (its model.json), else best path."""
  return choice(folder, "decoder") or "best_path"


def default_word_model(folder: str) -> str | None:
  """The word model that re-reads the words of the line model in `folder`
  (`readers.crnn.CRNNReader` word_reader) when none is given: a pretrained
  line model's chosen one (its model.json), else none."""
  return choice(folder, "word_model")


def choice(folder: str, key: str) -> str | None:
  """`key` of the model.json in `folder`, if any."""
  try:
    with open(os.path.join(folder, "model.json")) as f:
      return json.load(f).get(key)
  except (OSError, ValueError):
    return None
