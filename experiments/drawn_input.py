"""How well the segmentation reader reads drawn input: held-out EMNIST glyphs
replayed as canvas drawings (`preprocess/drawing.py:glyph_as_drawing`: the
glyph's skeleton traced with the demo's round 8 px brush on its 900x300
canvas), read as `hwr-demo` reads them, against the same glyphs as images.

  python experiments/drawn_input.py --workdir=runs/dev_byclass --num_glyphs=2000

Prints one JSON line per condition and a table: accuracy (case-sensitive and
ignoring case) and the share of drawings cut into exactly one character.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from hwr_jax import runtime  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "runs/dev_byclass", "Workdir of a ByClass character classifier.")
flags.DEFINE_integer("num_glyphs", 2000, "Held-out glyphs to replay.")
flags.DEFINE_integer("seed", 0, "Which glyphs, and where they are drawn.")


def replay(workdir: str, num_glyphs: int, seed: int) -> list[dict]:
  from hwr_jax import checkpoints
  from hwr_jax.data import word_synthesis
  from hwr_jax.preprocess.drawing import STROKE_SHARE, glyph_as_drawing, normalize_drawing
  from hwr_jax.readers.segmentation import SegmentationReader
  reader = SegmentationReader(workdir)
  bank = word_synthesis.heldout_bank(checkpoints.load_workdir_config(workdir).data)
  rng = np.random.default_rng(seed)
  index = rng.choice(len(bank.labels), min(num_glyphs, len(bank.labels)), replace=False)
  glyphs, truth = bank.images[index], [reader.charset[k] for k in bank.labels[index]]
  drawings = [glyph_as_drawing(g, rng) for g in glyphs]
  as_images = [255 - np.pad(np.kron(g, np.ones((4, 4), np.uint8)), 20) for g in glyphs]
  conditions = {
      "classifier on the 28x28 glyphs (no segmentation)":
          [reader.charset[k] for k in reader.model.classify(glyphs).argmax(-1)],
      "reader on the glyphs as images": [r.text for r in reader.read_many(as_images)],
      "reader on the drawings, normalized (as hwr-demo)":
          [r.text for r in reader.read_many(
              [normalize_drawing(d, STROKE_SHARE["segment"]) for d in drawings])],
      "reader on the drawings as drawn": [r.text for r in reader.read_many(drawings)],
  }
  results = []
  for name, texts in conditions.items():
    results.append({
        "condition": name, "glyphs": len(truth),
        "accuracy": float(np.mean([t == c for t, c in zip(texts, truth)])),
        "accuracy_ignoring_case": float(np.mean([t.lower() == c.lower()
                                                 for t, c in zip(texts, truth)])),
        "one_character": float(np.mean([len(t) == 1 for t in texts]))})
  return results


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  results = replay(FLAGS.workdir, FLAGS.num_glyphs, FLAGS.seed)
  for r in results:
    print(json.dumps(r))
  print("\n| condition | accuracy | ignoring case | cut into one character |\n|---|---:|---:|---:|")
  for r in results:
    print(f"| {r['condition']} | {100 * r['accuracy']:.1f} % | "
          f"{100 * r['accuracy_ignoring_case']:.1f} % | {100 * r['one_character']:.1f} % |")


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
