"""Real-data development protocol, 26-class letters task (../shared/emnist).

The letter images among the shared ByClass dev images, each case merged into
one class as in EMNIST Letters (digits are dropped); validation is the last
10 %. Test: the letters of the shared official Balanced test sample. A proxy
for EMNIST Letters, not comparable to published numbers.

python launch.py --config=configs/dev_letters.py --workdir=runs/dev_letters
"""

from configs import dev_balanced


def get_config():
  config = dev_balanced.get_config()
  config.data.label_space = "letters"
  return config
