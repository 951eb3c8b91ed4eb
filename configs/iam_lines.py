"""CRNN + CTC line reader for pages: IAM lines rebuilt from the word crops
(`hwr_jax/data/iam_pages.py`), and the same writers' single words.

  python launch.py --config=configs/iam_lines.py --workdir=runs/iam_lines \\
      --config.words.path=IAM_FOLDER
  python launch.py --config=configs/iam_lines.py --workdir=runs/iam_lines \\
      --config.words.path=IAM_FOLDER --mode=evaluate
  python experiments/iam_pages.py --workdir=runs/iam_lines --iam=IAM_FOLDER

IAM_FOLDER as for configs/iam_words.py. Split by writer: writer id % 7 == 3
-> test, == 4 -> validation (model selection, on lines), others -> training.
Training reads every training writer's line (spaces are characters: it reads
lines) and, with words.with_words, their single words marked 'ok', so the one
model reads a page's lines and a single word image alike. The lines are
reconstructions from the word crops, not scans.
"""

from configs import iam_words


def get_config():
  config = iam_words.get_config()
  config.words.source = "iam_lines"
  config.words.with_words = True
  # An IAM-OnDB folder: its validation and test lines are kept out of the word
  # language model too (it copies the same texts as IAM).
  config.words.ondb_path = ""
  # With ondb_path: also train on IAM-OnDB's training lines drawn as images
  # (`hwr_jax/data/ondb_images.py`; those sharing a 6-gram with a test line left out).
  config.words.ondb_lines = False
  # Widths at height 32 (rebuilt lines: median 460 px, 99th percentile 910).
  config.words.buckets = (32, 64, 96, 128, 192, 256, 384, 512, 640, 768, 896, 1024)
  config.words.max_label_length = 100
  config.batch_size = 32
  config.eval_batch_size = 32
  config.num_epochs = 20
  config.warmup_epochs = 0.25
  return config
