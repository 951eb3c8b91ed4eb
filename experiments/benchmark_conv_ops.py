"""Where the CPU train step goes: each convolution of the classifier, per pass, JAX vs TensorFlow.

  python experiments/benchmark_conv_ops.py --config=configs/byclass.py

For every 3x3 'SAME' convolution of the config's CNN (batch = config.batch_size)
times the forward pass, the input gradient and the weight gradient, each
jitted on its own: in JAX (XLA:CPU, with the project's XLA flags) and, where
TensorFlow is installed (`pip install -r requirements-bench.txt`), the same
three ops in TensorFlow (`tf.nn.conv2d`, `Conv2DBackpropInput`,
`Conv2DBackpropFilter`; oneDNN on x86). Interleaved rounds, medians; prints a
table and one JSON line per op. The first layer's input gradient is not part
of training (its input is the image) and is not timed.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from hwr_jax import runtime  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", "configs/byclass.py", "Config whose CNN to time.")
flags.DEFINE_integer("repeats", 10, "Timed calls per op and round.")
flags.DEFINE_integer("rounds", 3, "Interleaved rounds; the median is reported.")

PASSES = ("forward", "input_grad", "weight_grad")


def conv_layers(config):
  """(height, in_channels, out_channels) of every convolution, in order, read
  from the config's model itself (each ConvBlock halves the 28x28 input)."""
  import jax
  import jax.numpy as jnp
  from hwr_jax.data import labels
  from hwr_jax import models
  model = models.create_model(config, len(labels.charset(config.data.label_space)))
  params = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1))))
  blocks = sorted((k for k in params["params"] if k.startswith("ConvBlock_")),
                  key=lambda k: int(k.split("_")[1]))
  layers = []
  for i, block in enumerate(blocks):
    convs = params["params"][block]
    for conv in sorted(convs, key=lambda k: int(k.split("_")[1])):
      kh, kw, cin, cout = convs[conv]["kernel"].shape
      assert (kh, kw) == (3, 3), "this benchmark times 3x3 convolutions"
      layers.append((28 // 2 ** i, cin, cout))
  return layers


def jax_ops(batch, size, cin, cout):
  import jax
  import numpy as np
  from jax import lax
  conv = lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
  rng = np.random.default_rng(0)
  x = jax.numpy.asarray(rng.normal(size=(batch, size, size, cin)).astype(np.float32))
  w = jax.numpy.asarray(rng.normal(size=(3, 3, cin, cout)).astype(np.float32))
  dy = jax.numpy.asarray(rng.normal(size=(batch, size, size, cout)).astype(np.float32))
  fns = {"forward": (jax.jit(conv), (x, w)),
         "input_grad": (jax.jit(lambda dy, w: jax.vjp(lambda x: conv(x, w), x)[1](dy)[0]), (dy, w)),
         "weight_grad": (jax.jit(lambda x, dy: jax.vjp(lambda w: conv(x, w), w)[1](dy)[0]), (x, dy))}
  return {name: (lambda f=f, a=a: jax.block_until_ready(f(*a))) for name, (f, a) in fns.items()}


def tf_ops(batch, size, cin, cout):
  import tensorflow as tf
  x = tf.random.normal((batch, size, size, cin))
  w = tf.random.normal((3, 3, cin, cout))
  dy = tf.random.normal((batch, size, size, cout))
  strides = [1, 1, 1, 1]
  fns = {"forward": tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME")),
         "input_grad": tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
             input_sizes=[batch, size, size, cin], filter=w, out_backprop=dy,
             strides=strides, padding="SAME")),
         "weight_grad": tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
             input=x, filter_sizes=[3, 3, cin, cout], out_backprop=dy, strides=strides,
             padding="SAME"))}
  return {name: (lambda f=f: f().numpy()) for name, f in fns.items()}


def main(argv):
  del argv
  config, batch = FLAGS.config, FLAGS.config.batch_size
  builders = {"jax": jax_ops}
  try:
    import tensorflow  # noqa: F401
    builders["tensorflow"] = tf_ops
  except ImportError:
    print("TensorFlow not installed: timing JAX only (pip install -r requirements-bench.txt)")
  ops = {}  # (framework, layer, pass) -> (fn, times)
  for framework, build in builders.items():
    for layer in conv_layers(config):
      for name, fn in build(batch, *layer).items():
        if name == "input_grad" and layer[1] == 1:
          continue
        fn()  # compile / warm up
        ops[(framework, layer, name)] = (fn, [])
  for _ in range(FLAGS.rounds):
    for fn, times in ops.values():
      start = time.perf_counter()
      for _ in range(FLAGS.repeats):
        fn()
      times.append((time.perf_counter() - start) / FLAGS.repeats)

  median_ms = {key: 1000 * statistics.median(times) for key, (_, times) in ops.items()}
  frameworks = list(builders)
  print(f"\nbatch {batch}, {os.cpu_count()} cores; median ms of {FLAGS.rounds} interleaved rounds")
  print(f"{'layer':<16} {'pass':<12}" + "".join(f"{f:>12}" for f in frameworks)
        + ("   jax / tf" if len(frameworks) > 1 else ""))
  totals = {f: 0.0 for f in frameworks}
  for layer in conv_layers(config):
    for name in PASSES:
      if ("jax", layer, name) not in median_ms:
        continue
      row = [median_ms[(f, layer, name)] for f in frameworks]
      for f, v in zip(frameworks, row):
        totals[f] += v
      label = f"{layer[0]}x{layer[0]} {layer[1]}->{layer[2]}"
      print(f"{label:<16} {name:<12}" + "".join(f"{v:>12.1f}" for v in row)
            + (f"   {row[0] / row[1]:>7.2f}x" if len(row) > 1 else ""))
  print(f"{'all convolutions':<29}" + "".join(f"{totals[f]:>12.1f}" for f in frameworks)
        + (f"   {totals['jax'] / totals['tensorflow']:>7.2f}x" if len(frameworks) > 1 else ""))
  for (framework, layer, name), ms in median_ms.items():
    size, cin, cout = layer
    gflop = 2 * batch * size * size * 9 * cin * cout / 1e9
    print(json.dumps({"framework": framework, "layer": f"{size}x{size} {cin}->{cout}",
                      "pass": name, "median_ms": round(ms, 3),
                      "gflop_per_s": round(gflop / (ms / 1000), 1), "batch_size": batch,
                      "threads": os.cpu_count()}))


if __name__ == "__main__":
  runtime.set_xla_flags()
  app.run(main)
