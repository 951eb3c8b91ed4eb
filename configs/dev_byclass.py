"""Real-data development protocol, 62-class ByClass task (../shared/emnist).

Trains on the first 90 % of the shared ByClass dev images (93,058 real EMNIST
images), validates on the last 10 %. Not comparable to published numbers.

python launch.py --config=configs/dev_byclass.py --workdir=runs/dev_byclass
"""

import os

from configs import common

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "..", "shared", "emnist")


def get_config():
  config = common.get_base_config()
  config.data.source = "idx"
  config.data.train_images = os.path.join(SHARED, "emnist-byclass-dev-images-idx3-ubyte.gz")
  config.data.train_labels = os.path.join(SHARED, "emnist-byclass-dev-labels-idx1-ubyte.gz")
  config.data.file_label_space = "byclass"
  config.data.label_space = "byclass"
  config.data.validation_fraction = 0.1
  config.num_epochs = 10
  return config
