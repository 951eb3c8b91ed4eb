"""Reading pages, lines and words, and pen strokes, from the command line (`hwr-read`).

  hwr-read word.png line.jpg scans/ --workdir=runs/dev_byclass [--json] [--show=out.png]
  hwr-read word.png --workdir=runs/words --reader=crnn --decoder=beam_lm
  hwr-read page.png scan.tif --workdir=runs/iam_lines [--json] [--show=out.png]
  hwr-read line.xml note.inkml strokes.ink.json inkfolder/ --workdir=runs/ondb
  python -m hwr_jax.read word.png --workdir=runs/dev_byclass

The readers themselves live in `hwr_jax/readers/` (Python API:
`hwr_jax.load_reader`); this module parses flags, reads files in batches and
prints one result per file.
"""

import argparse
import json
import os
import sys

# Files per model call; the next batch is prepared and the last one decoded meanwhile.
BATCH = 128


def reader_kind(workdir: str) -> str | None:
  """The kind of model ('cnn', 'crnn', 'ink') a workdir holds (its
  config.json), or an exported .onnx file (the .json beside it)."""
  import json
  try:
    if workdir.endswith(".onnx"):
      with open(os.path.splitext(workdir)[0] + ".json") as f:
        return json.load(f).get("kind")
    with open(os.path.join(workdir, "config.json")) as f:
      return json.load(f).get("model", {}).get("name")
  except (OSError, ValueError):
    return None


def parse_args(argv):
  parser = argparse.ArgumentParser(prog="hwr-read", description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("images", nargs="*", help="image or ink files, or folders of them")
  parser.add_argument("--workdir", help="workdir of a trained model (default: a pretrained "
                      "model for each kind of input: --list-models)")
  parser.add_argument("--model", metavar="NAME", help="a pretrained model by name")
  parser.add_argument("--onnx", metavar="FILE.onnx",
                      help="a model exported with hwr-export: read with onnxruntime alone "
                           "(no JAX needed; best_path and beam decoders)")
  parser.add_argument("--engine", choices=["auto", "jax", "onnx"], default="auto",
                      help="what runs a pretrained model (--model, or no model flag): onnx "
                           "(onnxruntime; its graph is exported into the cache folder on the "
                           "first run, and later runs never import JAX), jax, or auto: onnx "
                           "where onnxruntime is installed and the cache folder writable. A "
                           "training run's workdir runs with JAX, an --onnx file with "
                           "onnxruntime")
  parser.add_argument("--list-models", action="store_true",
                      help="print the pretrained models, one line each, and exit")
  parser.add_argument("--reader", choices=["segment", "crnn", "ink"],
                      help="segment: cut into characters and classify them (a classifier "
                           "workdir); crnn: read whole words (a configs/words.py workdir); "
                           "ink: read pen strokes (a configs/ondb_lines.py workdir); "
                           "default: what the workdir holds")
  parser.add_argument("--decoder",
                      choices=["best_path", "beam", "beam_lm", "lexicon", "token_passing",
                               "word_beam"],
                      help="crnn: CTC decoder; segment: best_path (each character's best "
                           "class, word rules) or lexicon (the best dictionary word); "
                           "default: the pretrained model's choice (--list-models), else "
                           "best_path")
  parser.add_argument("--word-model", metavar="NAME|DIR",
                      help="a line model's pages and lines: a word model (pretrained name or "
                           "workdir) that re-reads each word where the line model's alignment "
                           "puts it, 'none' for the line model alone; default: the pretrained "
                           "line model's choice (iam-lines: iam-words)")
  parser.add_argument("--word-decoder",
                      choices=["best_path", "beam", "beam_lm", "lexicon", "token_passing"],
                      help="--word-model: its CTC decoder (best_path, beam: its reading and the "
                           "line model's are weighed by both models); default: the word model's "
                           "choice")
  parser.add_argument("--word-widths", metavar="W,W,...",
                      help="--word-model: each word also read stretched to these widths "
                           "(1 = as cut; e.g. 1,0.8,1.25: three readings weighed together, "
                           "more accurate and slower); default: the pretrained line model's "
                           "choice, else 1")
  parser.add_argument("--beam-width", type=int, default=16, help="crnn: beam width")
  parser.add_argument("--lm-weight", type=float, default=0.5,
                      help="crnn --decoder=beam_lm: weight of the character language model")
  parser.add_argument("--lexicon", metavar="FILE",
                      help="--decoder=lexicon|token_passing: word list (one word per line, "
                           "optional count); default: the 20,000 most frequent English words "
                           "(and a word model's training words)")
  parser.add_argument("--word-lm", metavar="FILE",
                      help="--decoder=word_beam: the word model: an ARPA file (KenLM, SRILM; its "
                           "1- and 2-grams) or running text (one sentence or line per line) for "
                           "a word bigram model; default: an ink model's training lines "
                           "(lm_lines.txt), else the lexicon alone")
  parser.add_argument("--checkpoint", default="best", help="'best', 'latest' or a step")
  parser.add_argument("--json", action="store_true", help="print one JSON object per image")
  parser.add_argument("--show", metavar="OUT.png",
                      help="write a picture of the reading: the segmentation, or a page's line "
                           "and word boxes beside its text (one image: this file; several: "
                           "OUT-<name>.png)")
  parser.add_argument("--no-case-by-size", action="store_true",
                      help="leave o/O, s/S, ... to the classifier alone")
  parser.add_argument("--no-word-rules", action="store_true",
                      help="do not make a word all letters or all digits, nor one case")
  parser.add_argument("--cache-dir", metavar="DIR",
                      help="where compiled programs and derived resources are kept "
                           "(default: $HWR_JAX_CACHE_DIR or ~/.cache/hwr-jax)")
  return parser, parser.parse_args(argv)


def main(argv=None) -> int:
  try:
    return run(argv)
  except BrokenPipeError:   # the output's reader stopped early (`hwr-read ... | head`)
    # No traceback, and none when Python flushes stdout at exit (Python's docs: signal.SIGPIPE).
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


def run(argv=None) -> int:
  parser, args = parse_args(argv)
  if args.list_models:
    return list_models()
  if not args.images:
    parser.error("give image or ink files, or folders of them (or --list-models)")
  if sum(bool(x) for x in (args.workdir, args.model, args.onnx)) > 1:
    parser.error("one of --workdir, --model and --onnx")
  if args.onnx and args.engine == "jax":
    parser.error("--onnx reads with onnxruntime: leave out --engine=jax")
  if args.cache_dir:
    os.environ["HWR_JAX_CACHE_DIR"] = args.cache_dir
  from hwr_jax import runtime
  runtime.set_xla_flags()   # before JAX is imported
  from hwr_jax import pretrained
  from hwr_jax.checkpoints import ModelLoadError
  try:
    if args.workdir and not os.path.exists(args.workdir) and args.workdir in pretrained.names():
      args.workdir = pretrained.find(args.workdir)   # a pretrained model's name, as load_reader takes
    source = args.workdir or args.onnx or (pretrained.find(args.model) if args.model else None)
  except ModelLoadError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  from hwr_jax.readers import reader_of
  from hwr_jax.readers.base import (IMAGE_EXTENSIONS, INK_FOLDER_EXTENSIONS, expand_paths,
                                    image_pages)
  missing = 0              # files no model was found for
  if source is not None:   # one model reads every file
    kind = args.reader or reader_of(reader_kind(source))
    files = expand_paths(args.images, INK_FOLDER_EXTENSIONS if kind == "ink" else IMAGE_EXTENSIONS)
    if not files:
      parser.error("no ink files found" if kind == "ink" else "no images found")
    runs = [(source, kind, files)]
  else:                    # the default pretrained model of each kind of input
    files = expand_paths(args.images, INK_FOLDER_EXTENSIONS + IMAGE_EXTENSIONS)
    if not files:
      parser.error("no images or ink files found")
    runs = []
    for path in [p for f in files for p in ([f] if is_ink_file(f) else image_pages(f))]:
      kind = "ink" if is_ink_file(path) else "page" if holds_lines(path) else "image"
      if not runs or runs[-1][1] != kind:
        runs.append((None, kind, []))
      runs[-1][2].append(path)
    found = []
    for _, kind, paths in runs:
      try:
        found.append((pretrained.find(pretrained.default_for(kind)), None, paths))
      except ModelLoadError as e:   # the other kinds of input are still read
        for path in paths:
          print(f"{path}: cannot read: {e}", file=sys.stderr)
        missing += len(paths)
    if not found:
      return 2
    runs = [(src, reader_of(reader_kind(src)), paths)
            for src, _, paths in found]
  runs = [(src, kind, paths if kind == "ink" else [p for f in paths for p in image_pages(f)])
          for src, kind, paths in runs]   # a multi-page TIFF is read page by page
  from hwr_jax import readers
  loaded = {}
  failures, total = 0, sum(len(paths) for _, _, paths in runs)
  for source, kind, paths in runs:
    decoder = args.decoder or (pretrained.default_decoder(source) if os.path.isdir(source)
                               else "best_path")
    if kind in ("crnn", "ink"):
      options = dict(decoder=decoder, beam_width=args.beam_width, lexicon_path=args.lexicon,
                     lm_weight=args.lm_weight, word_lm_path=args.word_lm)
    else:
      options = dict(use_case_by_size=not args.no_case_by_size,
                     use_word_rules=not args.no_word_rules, decoder=decoder,
                     lexicon_path=args.lexicon)
    if source not in loaded:
      try:
        if kind == "crnn":
          options["word_reader"] = word_reader(source, args)
          options["word_widths"] = word_widths(source, args)
        loaded[source] = load(source, kind, args, options)
      except (ValueError, OSError) as e:   # ReaderError; OSError: a lexicon file, ...
        print(f"error: {e}", file=sys.stderr)
        return 2
    failures += read_files(loaded[source], paths, args, total)
  return 1 if failures or missing else 0


def word_reader(source: str, args):
  """The reader of the word model that re-reads a line model's words
  (--word-model, else the pretrained line model's choice), or None."""
  from hwr_jax import pretrained
  name = args.word_model or (pretrained.default_word_model(source) if os.path.isdir(source)
                             else None)
  if not name or name == "none":
    return None
  folder = pretrained.folder(name)
  decoder = args.word_decoder or pretrained.default_decoder(folder)
  return load(folder, "crnn", args, dict(decoder=decoder, beam_width=args.beam_width,
                                         lexicon_path=args.lexicon))


def word_widths(source: str, args) -> tuple[float, ...]:
  """--word-widths, else the pretrained line model's choice, else (1,)."""
  from hwr_jax import pretrained
  from hwr_jax.readers.crnn import parse_widths
  given = args.word_widths or (pretrained.choice(source, "word_widths") if os.path.isdir(source)
                               else None)
  try:
    return parse_widths(given or "1")
  except ValueError:
    raise ValueError(f"--word-widths takes numbers separated by commas, not {given!r}") from None


def load(source: str, kind: str, args, options: dict):
  """The reader of `source`: a pretrained model with onnxruntime (--engine),
  anything else as `readers.load_reader` loads it."""
  from hwr_jax import pretrained, readers
  from hwr_jax.exporting import cached
  shipped = os.path.dirname(os.path.abspath(source)) == pretrained.FOLDER
  if args.engine == "onnx" and not source.endswith(".onnx"):
    if not shipped:
      raise ValueError("--engine=onnx runs pretrained models (--model) and --onnx files; "
                       "export a workdir's model with hwr-export first")
    if not cached.available():
      raise ValueError("--engine=onnx needs onnx and onnxruntime: pip install -r "
                       "requirements.txt")
  if shipped and args.engine != "jax" and cached.available():
    try:
      onnx = cached.onnx_file(source)
    except OSError as e:   # an unwritable cache folder: JAX reads it (auto), or say why
      if args.engine == "onnx":
        raise
      print(f"warning: reading with JAX: the model's graph could not be kept ({e})",
            file=sys.stderr)
    else:
      return readers.load_reader(onnx, kind, resources=source, **options)
  return readers.load_reader(source, kind, args.checkpoint, **options)


def holds_lines(path: str) -> bool:
  """Whether an image holds several lines of writing (a page: the default
  page model reads it; a word or a line: the default image model)."""
  from hwr_jax.preprocess.image import to_gray
  from hwr_jax.readers.base import INPUT_ERRORS, load_image
  from hwr_jax.readers.crnn import find_lines
  try:
    return len(find_lines(to_gray(load_image(path)))[0]) > 1
  except INPUT_ERRORS:   # the reader says what is wrong with it
    return False


def is_ink_file(path: str) -> bool:
  from hwr_jax.readers.base import INK_FOLDER_EXTENSIONS
  return path.lower().endswith(INK_FOLDER_EXTENSIONS + (".json",))


def list_models() -> int:
  from hwr_jax import pretrained
  for name in pretrained.names():
    info = pretrained.summary(name)
    print(f"{name:16s} {info['task']}; {info['data']}; {info['result']}; "
          f"reads with {info.get('decoder', 'best_path')}")
  return 0


def read_files(reader, files: list[str], args, total: int) -> int:
  """Reads and prints `files` with `reader`; returns how many failed."""
  failures = 0
  for path, reading in reader.iter_files(files, BATCH):
    failures += reading.error is not None
    print_reading(path, reading, args.json)
    if args.show and reading.error is None:
      out = args.show if total == 1 else f"{os.path.splitext(args.show)[0]}-{stem(path)}.png"
      if reading.segmentation is not None:
        from hwr_jax.readers.segmentation import save_picture
        save_picture(reading, out, os.path.basename(path))
      elif reading.lines and reading.lines[0].words is not None:
        import cv2
        from hwr_jax.readers.base import load_image, page_picture
        if not cv2.imwrite(out, page_picture(load_image(path), reading)):
          print(f"{path}: cannot write {out}", file=sys.stderr)
  return failures


def stem(path: str) -> str:
  """A file's name without its extension; `scan.tif[2]` (a TIFF's page) -> `scan-2`."""
  name = os.path.basename(path)
  page = ""
  if name.endswith("]") and "[" in name:
    name, page = name[:-1].rsplit("[", 1)
    page = "-" + page
  return os.path.splitext(name)[0] + page


def print_reading(path: str, reading, as_json: bool) -> None:
  for note in reading.notes:
    print(f"{path}: note: {note}", file=sys.stderr)
  if as_json:
    print(json.dumps({"file": path, **reading.to_json()}))
  elif reading.error is not None:
    print(f"{path}: cannot read: {reading.error}", file=sys.stderr)
  elif reading.lines is not None and len(reading.lines) > 1:   # one output line per line
    for k, line in enumerate(reading.lines, 1):
      print(f"{path}:{k}\t{line.text}\t{line.confidence:.3g}")
  elif reading.confidence is not None:
    print(f"{path}\t{reading.text}\t{reading.confidence:.3g}")
  else:
    confidences = " ".join(f"{c.char}:{c.confidence:.2f}" for c in reading.characters)
    print(f"{path}\t{reading.text}\t{confidences}")


if __name__ == "__main__":
  sys.exit(main())
