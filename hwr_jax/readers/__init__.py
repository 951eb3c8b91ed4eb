"""Readers of word and line images and of pen strokes, on top of `hwr_jax.inference`.

  reader = hwr_jax.load_reader("runs/words", decoder="beam")   # or a pretrained model's name
  reading = reader.read(image)            # .text, .confidence, .characters, .frames
  readings = reader.read_many(images)     # batched; bad images get .error
  readings = reader.read_files(paths)

segmentation.py  cut into characters, classify them (a character classifier)
crnn.py          whole words with a CRNN + CTC decoder (a word model)
ink.py           lines of pen strokes with an ink model + CTC decoder
rules.py         the segmentation reader's word rules
base.py          Reading, image files, batching
"""

from hwr_jax.readers.base import (Character, ImageError, Reader, ReaderError,  # noqa: F401
                                  Reading, load_image)

READERS = ("segment", "crnn", "ink")


def reader_of(model_name: str | None) -> str:
  """The reader of a kind of model: 'crnn' and 'ink' read with their own,
  a character classifier (or anything else) with 'segment'."""
  return model_name if model_name in ("crnn", "ink") else "segment"


def load_reader(workdir: str, reader: str | None = None, checkpoint: str = "best", *,
                compilation_cache: bool = True, resources: str = "", **options) -> Reader:
  """The reader for a trained model's workdir, a pretrained model's name
  (`hwr_jax.pretrained`: hwr-read --list-models) or an exported model's
  .onnx file (read with onnxruntime, no JAX): 'segment' for a character
  classifier, 'crnn' for a word model, 'ink' for an ink model (default:
  whichever the workdir holds).
  `options` go to the reader (CRNN: decoder, beam_width, lexicon_path, lm_weight,
  word_reader: a word model's reader that re-reads a line model's words, by
  default the one a pretrained line model names, None for none; word_widths;
  segmentation: use_case_by_size, use_word_rules). `compilation_cache`: keep
  compiled programs in the user's cache folder (`hwr_jax/cache.py`), so the
  next process that loads this model compiles nothing. `resources`: with a
  .onnx file, the model folder whose vocabulary and language-model lines the
  decoders read (a pretrained model's, as `hwr-read` reads it)."""
  if workdir.endswith(".onnx"):   # an exported model: onnxruntime, no JAX
    from hwr_jax import onnx_inference
    model = onnx_inference.load_model(workdir)
    if reader is not None and reader != reader_of(model.name):
      raise ReaderError(f"{workdir} holds a {model.name!r} model, which the {reader!r} reader "
                        f"cannot read; use --reader={reader_of(model.name)} (or leave it out).")
    reader = reader or reader_of(model.name)
    return _reader_class(reader)(resources, checkpoint, model=model, **options)
  from hwr_jax import inference, pretrained
  from hwr_jax.checkpoints import load_workdir_config
  workdir = pretrained.folder(workdir)   # or a pretrained model's name
  if compilation_cache:
    inference.enable_compilation_cache()
  if reader is None:
    config = load_workdir_config(workdir)
    name = config.get("model", {}).get("name") if config is not None else None
    reader = reader_of(name)
  word_model = pretrained.default_word_model(workdir) if reader == "crnn" else None
  if word_model and "word_reader" not in options:
    # A pretrained line model reads with the word model it names (its model.json).
    from hwr_jax.readers.crnn import parse_widths
    word_model = pretrained.folder(word_model)
    options["word_reader"] = load_reader(word_model, "crnn", decoder=pretrained.default_decoder(
        word_model), compilation_cache=compilation_cache)
    widths = pretrained.choice(workdir, "word_widths")
    if widths and "word_widths" not in options:
      options["word_widths"] = parse_widths(widths)
  return _reader_class(reader)(workdir, checkpoint, **options)


def _reader_class(reader: str):
  if reader == "ink":
    from hwr_jax.readers.ink import InkReader
    return InkReader
  if reader == "crnn":
    from hwr_jax.readers.crnn import CRNNReader
    return CRNNReader
  if reader == "segment":
    from hwr_jax.readers.segmentation import SegmentationReader
    return SegmentationReader
  raise ReaderError(f"Unknown reader {reader!r}; choose from {READERS}.")
