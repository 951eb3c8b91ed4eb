"""EMNIST ByClass (62 classes), official train/test split, 30 epochs.

python launch.py --config=configs/byclass.py --workdir=runs/byclass
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "byclass"
  config.data.label_space = "byclass"
  config.num_epochs = 30
  return config
