"""MNIST itself (LeCun et al.; 10 digits, 60,000 train / 10,000 test), 20 epochs.

python launch.py --config=configs/mnist.py --workdir=runs/mnist
"""

from configs import common


def get_config():
  config = common.get_base_config()
  config.data.source = "mnist"          # or tfds (tfds_name below)
  config.data.tfds_name = "mnist"
  config.data.emnist_split = "mnist"
  config.data.label_space = "digits"
  config.num_epochs = 20
  return config
