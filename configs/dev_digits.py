"""Real-data development protocol, 10-class digits task (../shared/emnist).

The digit images among the shared ByClass dev images (letters are dropped);
validation is the last 10 %. Test: the digits of the shared official Balanced
test sample. A proxy for EMNIST Digits, not comparable to published numbers.

python launch.py --config=configs/dev_digits.py --workdir=runs/dev_digits
"""

from configs import dev_balanced


def get_config():
  config = dev_balanced.get_config()
  config.data.label_space = "digits"
  return config
