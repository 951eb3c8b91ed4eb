"""EMNIST Letters (26 classes, each a letter in either case; files number them from 1), official train/test split, 20 epochs.

python launch.py --config=configs/letters.py --workdir=runs/letters
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "letters"
  config.data.label_space = "letters"
  config.num_epochs = 20
  return config
