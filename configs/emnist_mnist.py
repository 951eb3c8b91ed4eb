"""EMNIST MNIST split (10 classes, 70,000 digits in MNIST's proportions), official train/test split, 20 epochs.

python launch.py --config=configs/emnist_mnist.py --workdir=runs/emnist_mnist
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.emnist_split = "mnist"
  config.data.label_space = "digits"
  config.num_epochs = 20
  return config
