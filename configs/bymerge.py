"""EMNIST ByMerge (47 classes, unbalanced; the same label space as Balanced), official train/test split, 30 epochs.

python launch.py --config=configs/bymerge.py --workdir=runs/bymerge
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "bymerge"
  config.data.label_space = "balanced"
  config.num_epochs = 30
  return config
