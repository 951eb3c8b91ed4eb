"""Train-step throughput: this project's jitted step vs the same CNN in Keras / PyTorch.

  python experiments/benchmark_train.py --config=configs/byclass.py
  python experiments/benchmark_train.py --config=configs/byclass.py --rounds=5 --steps=30

Times the project's own `train_step` (as the config sets it up: dropout,
augmentation, optimizer) and, where installed (`pip install -r
requirements-bench.txt`), the same architecture in TensorFlow/Keras and in
PyTorch, on the same random batch, in interleaved rounds in one process (these
machines drift; compare ratios taken in the same run, not absolute numbers
across runs). Prints a table and one JSON line per framework.
"""

import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from hwr_jax import runtime  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/byclass.py", "Config to benchmark.")
flags.DEFINE_integer("steps", 20, "Timed steps per round.")
flags.DEFINE_integer("warmup", 3, "Untimed steps before the first round.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds; the median step time is reported.")
flags.DEFINE_list("frameworks", ["jax", "jax_noaug", "keras", "torch"],
                  "Which to time (missing ones are skipped); jax_noaug is the project's "
                  "step with augmentation off, like the peers.")


def jax_step_fn(config, batch_size, num_classes):
  """The project's own jitted train step, as the config sets it up."""
  import jax
  import numpy as np
  import functools

  from hwr_jax import parallel
  from hwr_jax.training import classifier
  mesh = parallel.make_mesh()
  train_step = jax.jit(functools.partial(
      classifier.train_step, seed=config.seed, augmentation=config.augment,
      label_smoothing=config.label_smoothing), donate_argnums=0)
  state = jax.device_put(classifier.create_train_state(config, num_classes, 100),
                         parallel.replicated(mesh))
  rng = np.random.default_rng(0)
  batch = parallel.host_to_global(
      {"image": rng.integers(0, 256, (batch_size, 28, 28), dtype=np.uint8),
       "label": rng.integers(0, num_classes, batch_size).astype(np.int32)}, mesh)
  holder = {"state": state}

  def step():
    holder["state"], metrics = train_step(holder["state"], batch)
    jax.block_until_ready(metrics["loss"])
  augment = "augmentation on" if config.augment.enabled else "no augmentation"
  return step, (f"jax {jax.__version__} / flax ({jax.default_backend()}, "
                f"{jax.device_count()} device(s), {augment})")


def jax_plain_step_fn(config, batch_size, num_classes):
  """The same step without on-device augmentation: the like-for-like peer of
  the Keras and PyTorch steps, which train on the batch as given."""
  config = config.copy_and_resolve_references()
  config.augment.enabled = False
  return jax_step_fn(config, batch_size, num_classes)


def keras_step_fn(config, batch_size, num_classes):
  import numpy as np
  import tensorflow as tf
  keras = tf.keras
  w1, w2 = config.model.block_features
  layers = [keras.Input((28, 28, 1))]
  for w in (w1, w1, None, w2, w2, None):
    layers.append(keras.layers.MaxPooling2D() if w is None else
                  keras.layers.Conv2D(w, 3, padding="same", activation="relu"))
  layers += [keras.layers.Flatten(), keras.layers.Dropout(config.model.dropout_rate),
             keras.layers.Dense(config.model.dense_features, activation="relu"),
             keras.layers.Dropout(config.model.dropout_rate), keras.layers.Dense(num_classes)]
  model = keras.Sequential(layers)
  optimizer = keras.optimizers.Adam(config.learning_rate)
  loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  rng = np.random.default_rng(0)
  x = tf.constant(rng.integers(0, 256, (batch_size, 28, 28, 1)).astype(np.float32) / 255)
  y = tf.constant(rng.integers(0, num_classes, batch_size))

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  return lambda: train_step().numpy(), f"tensorflow {tf.__version__} / keras {keras.__version__} (tf.function)"


def torch_step_fn(config, batch_size, num_classes):
  import numpy as np
  import torch
  from torch import nn
  w1, w2 = config.model.block_features
  conv = lambda i, o: [nn.Conv2d(i, o, 3, padding=1), nn.ReLU()]
  model = nn.Sequential(*conv(1, w1), *conv(w1, w1), nn.MaxPool2d(2), *conv(w1, w2),
                        *conv(w2, w2), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Dropout(config.model.dropout_rate),
                        nn.Linear(7 * 7 * w2, config.model.dense_features), nn.ReLU(),
                        nn.Dropout(config.model.dropout_rate),
                        nn.Linear(config.model.dense_features, num_classes))
  model = model.to(memory_format=torch.channels_last)
  optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
  rng = np.random.default_rng(0)
  x = torch.tensor(rng.integers(0, 256, (batch_size, 1, 28, 28)).astype(np.float32) / 255)
  x = x.to(memory_format=torch.channels_last)
  y = torch.tensor(rng.integers(0, num_classes, batch_size))

  def step():
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
  return step, f"pytorch {torch.__version__} (channels_last, {torch.get_num_threads()} threads)"


BUILDERS = {"jax": jax_step_fn, "jax_noaug": jax_plain_step_fn, "keras": keras_step_fn,
            "torch": torch_step_fn}


def main(argv):
  del argv
  config = FLAGS.config
  from hwr_jax.data import labels
  num_classes = len(labels.charset(config.data.label_space))
  steps = {}
  for name in FLAGS.frameworks:
    try:
      fn, desc = BUILDERS[name](config, config.batch_size, num_classes)
    except ImportError as e:
      print(f"skipping {name}: not installed ({e.name}); pip install -r requirements-bench.txt")
      continue
    for _ in range(FLAGS.warmup):
      fn()
    steps[name] = (fn, desc, [])
  for _ in range(FLAGS.rounds):
    for name, (fn, _, times) in steps.items():
      start = time.perf_counter()
      for _ in range(FLAGS.steps):
        fn()
      times.append((time.perf_counter() - start) / FLAGS.steps)

  results = []
  for name, (_, desc, times) in steps.items():
    median = statistics.median(times)
    results.append({"framework": name, "description": desc,
                    "samples_per_second": config.batch_size / median,
                    "median_step_ms": 1000 * median,
                    "round_step_ms": [round(1000 * t, 2) for t in times],
                    "batch_size": config.batch_size, "threads": os.cpu_count(),
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "augment": name == "jax" and bool(config.augment.enabled)})
  peer = next((r for r in results if r["framework"] == "keras"), results[0])
  print(f"\nbatch {config.batch_size}, {FLAGS.rounds} interleaved rounds of {FLAGS.steps} steps, "
        f"{os.cpu_count()} cores")
  print(f"{'framework':<10} {'samples/s':>10} {'step ms':>9} {'vs ' + peer['framework']:>9}  description")
  for r in results:
    print(f"{r['framework']:<10} {r['samples_per_second']:>10.0f} {r['median_step_ms']:>9.1f} "
          f"{r['samples_per_second'] / peer['samples_per_second']:>8.2f}x  {r['description']}")
  for r in results:
    print(json.dumps(r))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
