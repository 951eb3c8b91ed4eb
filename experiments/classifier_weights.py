"""A classifier's weights against another copy of them (a training run's fp32
checkpoint against its shipped fp16 model) on the config's validation split.

  python experiments/classifier_weights.py --config=configs/dev_byclass.py \\
      runs/dev_byclass emnist-byclass

Prints one JSON line per model: accuracy, top-5, macro precision / recall /
F1 and ROC-AUC on the same validation images (writes nothing into either
folder, unlike `launch.py --mode=evaluate`).
"""

import argparse
import importlib.util
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--config", required=True, help="the config that trained them")
  parser.add_argument("models", nargs="+", help="workdirs or pretrained names")
  args = parser.parse_args()
  from hwr_jax import runtime
  runtime.set_xla_flags()
  from hwr_jax import inference, parallel, pretrained
  from hwr_jax.data import sources
  from hwr_jax.evaluators.classification import classification_metrics
  spec = importlib.util.spec_from_file_location("config", args.config)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  images, labels = sources.load(config.data, with_test=False).validation
  mesh = parallel.make_mesh()
  for name in args.models:
    folder = name if os.path.isdir(name) else pretrained.find(name)
    model = inference.load_model(folder, "best", model_name="cnn")
    metrics = classification_metrics(labels, model.logits(images, config.eval_batch_size, mesh))
    print(json.dumps({"model": name, **{k: round(float(v), 5) for k, v in metrics.items()}}))


if __name__ == "__main__":
  main()
