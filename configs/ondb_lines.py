"""The ink reader: lines of pen strokes, trained on IAM-OnDB (official split).

  python launch.py --config=configs/ondb_lines.py --workdir=runs/ondb \\
      --config.ink.path=ONDB_FOLDER
  python launch.py --config=configs/ondb_lines.py --workdir=runs/ondb \\
      --config.ink.path=ONDB_FOLDER --mode=evaluate

ONDB_FOLDER holds lineStrokes/ and ascii/ as IAM-OnDB distributes them
(`hwr_jax/data/ondb.py`). Training: trainset and testset_t (as part of the
literature does); model selection: testset_v; test: testset_f. The charset is
the training texts' (the space included: it reads lines).
"""

import ml_collections

from configs import common


def get_config():
  config = common.get_base_config()
  config.task = "ink"
  config.model = ml_collections.ConfigDict()
  config.model.name = "ink"
  config.model.conv_features = (128, 128)
  config.model.lstm_features = 128
  config.model.lstm_layers = 3
  config.model.dropout_rate = 0.25

  config.ink = ml_collections.ConfigDict()
  config.ink.source = "ondb"          # ondb | folder (ink files + labels.tsv)
  config.ink.path = ""
  config.ink.extra_training = True    # ondb: train on testset_t too
  config.ink.iam_path = ""            # an IAM folder: keep its test lines out of language models
  config.ink.buckets = (256, 384, 512, 640, 768, 1024, 1280)   # points (IAM-OnDB: median 600)
  config.ink.points_per_frame = 4
  config.ink.max_label_length = 96
  config.ink.augment = True           # random stretch and slant, on the device

  config.batch_size = 32
  config.eval_batch_size = 64
  config.num_epochs = 30
  config.learning_rate = 1e-3
  config.schedule = "cosine"
  config.warmup_epochs = 0.5
  config.gradient_clip = 5.0
  config.log_every_steps = 20
  del config.augment                  # (the character classifiers' image warps)
  return config
