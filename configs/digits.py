"""EMNIST Digits (10 classes, 280,000 images), official train/test split, 20 epochs.

python launch.py --config=configs/digits.py --workdir=runs/digits
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "digits"
  config.data.label_space = "digits"
  config.num_epochs = 20
  return config
