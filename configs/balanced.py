"""EMNIST Balanced (47 classes), official train/test split, 20 epochs.

python launch.py --config=configs/balanced.py --workdir=runs/balanced
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "balanced"
  config.data.label_space = "balanced"
  config.num_epochs = 20
  return config
