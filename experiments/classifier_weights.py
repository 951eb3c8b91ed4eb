"""A classifier's weights against another copy of them (a training run's fp32
checkpoint against its shipped fp16 model) on the config's validation split.

  python experiments/classifier_weights.py --config=configs/dev_byclass.py \\
      runs/dev_byclass emnist-byclass

Prints one JSON line per model: accuracy, top-5, macro precision / recall /
F1 and ROC-AUC on the same validation images (writes nothing into either
folder, unlike `launch.py --mode=evaluate`).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from hwr_jax import runtime  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "The config that trained the models.")
flags.mark_flags_as_required(["config"])


def main(argv):
  models = argv[1:]   # workdirs or pretrained names
  from hwr_jax import inference, parallel, pretrained
  from hwr_jax.data import sources
  from hwr_jax.evaluators.classification import classification_metrics
  config = FLAGS.config
  images, labels = sources.load(config.data, with_test=False).validation
  mesh = parallel.make_mesh()
  for name in models:
    model = inference.load_model(pretrained.folder(name), "best", model_name="cnn")
    metrics = classification_metrics(labels, model.logits(images, config.eval_batch_size, mesh))
    print(json.dumps({"model": name, **{k: round(float(v), 5) for k, v in metrics.items()}}))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
