"""Real-data development protocol, 47-class Balanced task (../shared/emnist).

The shared ByClass dev images with their labels merged into the Balanced
label space (c i j k l m o p s u v w x y z -> one class each); validation is
the last 10 %. Test: the shared official Balanced test sample (304 images).

python launch.py --config=configs/dev_balanced.py --workdir=runs/dev_balanced
"""

from configs import dev_byclass


def get_config():
  config = dev_byclass.get_config()
  config.data.label_space = "balanced"
  config.data.test_images = dev_byclass.SHARED + "/emnist-balanced-sample-test-images-idx3-ubyte.gz"
  config.data.test_labels = dev_byclass.SHARED + "/emnist-balanced-sample-test-labels-idx1-ubyte.gz"
  config.data.test_file_label_space = "balanced"
  return config
