"""CRNN + CTC word reader, trained on words synthesized from real EMNIST glyphs.

Glyphs: the ByClass images of configs/dev_byclass.py (../shared/emnist); the
training words use its training part only, validation words its held-out
part. Point data.* at the official ByClass files to use the full set, or
train on real word images: --config.words.source=folder|iam
--config.words.path=FOLDER (validation: the last data.validation_fraction).

python launch.py --config=configs/words.py --workdir=runs/words
"""

import ml_collections

from configs import dev_byclass


def get_config():
  config = dev_byclass.get_config()
  config.task = "words"
  config.model = ml_collections.ConfigDict()
  config.model.name = "crnn"
  config.model.conv_features = 64
  config.model.dense_features = 128
  config.model.lstm_features = 128
  config.model.dropout_rate = 0.25
  config.init_from = ""   # fine-tune a word model (workdir or pretrained name); or a CNN workdir: its conv blocks

  config.words = ml_collections.ConfigDict()
  config.words.source = "synthetic"   # synthetic | folder (labels.tsv) | iam (words.txt)
  config.words.path = ""              # folder / iam: the folder to read
  config.words.height = 24
  config.words.buckets = (48, 96, 144, 192)   # padded image widths
  config.words.max_label_length = 12
  config.words.steps_per_epoch = 250
  config.words.num_validation_words = 300

  config.batch_size = 32
  config.eval_batch_size = 64
  config.num_epochs = 10
  config.learning_rate = 1e-3
  config.schedule = "cosine"
  config.warmup_epochs = 0.25
  config.gradient_clip = 5.0
  config.augment.enabled = False    # word synthesis already varies every image
  return config
