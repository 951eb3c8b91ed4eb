"""A trained model as an ONNX graph, written from its parameters.

Every model here is built from a dozen ONNX operators (Conv, MaxPool,
LayerNormalization, MatMul, the native LSTM, ...), so the graph is written
directly with `onnx.helper` from the flax parameters: no tracing converter,
and the exported file needs nothing of JAX to run (onnxruntime, in Python or
in the browser). Why not a converter: jax2onnx (0.17) cannot convert flax
linen's `nn.RNN` with sequence lengths, no maintained StableHLO -> ONNX
converter exists, and jax2tf + tf2onnx needs TensorFlow.

The graphs (opset 17; dynamic batch, and width or length where the model
allows it) end in log-probabilities over the classes (a classifier) or per
frame over the characters plus the CTC blank (label 0):

  cnn   images uint8 (B, 28, 28) upright, ink bright    -> log_probs (B, K)
  crnn  images uint8 (B, H, W) as `preprocess/word_input` makes them,
        lengths int32 (B,) valid frames (columns // 4)   -> log_probs (B, W // 4, K + 1)
  ink   ink float32 (B, T, 4) as `preprocess/ink` makes them (T a multiple of
        the points per frame), lengths int32 (B,) frames -> log_probs (B, T // k, K + 1)

Frames past a sequence's length are not defined (onnxruntime's LSTM writes
zeros there; flax runs on into the padding): read only the valid frames.
Parameter mapping: flax's LSTM cell has gate kernels i, f, g, o over the input
('i*') and the hidden state ('h*', with the biases); ONNX's LSTM takes them
stacked in the order i, o, f, c (c = g), forward then backward; a reversed
direction starts each sequence at its own length, as flax's Bidirectional.
"""

import numpy as np

OPSET = 17
LAYER_NORM_EPSILON = 1e-6   # flax's default


class GraphBuilder:
  """Nodes and weights of one ONNX graph, with unique names."""

  def __init__(self):
    self.nodes, self.weights, self._count = [], [], 0

  def name(self, prefix: str) -> str:
    self._count += 1
    return f"{prefix}_{self._count}"

  def weight(self, array, prefix: str = "w") -> str:
    from onnx import numpy_helper
    name = self.name(prefix)
    self.weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
    return name

  def op(self, op_type: str, inputs: list[str], output: str | None = None, **attributes) -> str:
    from onnx import helper
    output = output or self.name(op_type.lower())
    self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
    return output

  # -- layers, as the flax modules compute them ----------------------------

  def dense(self, x: str, p: dict) -> str:
    return self.op("Add", [self.op("MatMul", [x, self.weight(np.asarray(p["kernel"], np.float32))]),
                           self.weight(np.asarray(p["bias"], np.float32))])

  def conv(self, x: str, p: dict) -> str:
    """A 'SAME' convolution (3x3, or 3 wide in 1-D) on NC... input."""
    kernel = np.asarray(p["kernel"], np.float32)
    kernel = kernel.transpose(list(range(kernel.ndim - 1, -1, -1))[:2] +
                              list(range(kernel.ndim - 2)))   # (..., in, out) -> (out, in, ...)
    inputs = [x, self.weight(kernel)]
    if "bias" in p:
      inputs.append(self.weight(np.asarray(p["bias"], np.float32)))
    pads = [k // 2 for k in kernel.shape[2:]] * 2
    return self.op("Conv", inputs, pads=pads)

  def layer_norm(self, x: str, p: dict, nchw: bool = False) -> str:
    """flax LayerNorm over the channels (the last axis in flax; an NCHW
    input is turned channels-last for it and back)."""
    if nchw:
      x = self.op("Transpose", [x], perm=[0, 2, 3, 1])
    x = self.op("LayerNormalization", [x, self.weight(np.asarray(p["scale"], np.float32)),
                                       self.weight(np.asarray(p["bias"], np.float32))],
                axis=-1, epsilon=LAYER_NORM_EPSILON)
    return self.op("Transpose", [x], perm=[0, 3, 1, 2]) if nchw else x

  def bidirectional_lstm(self, x: str, forward: dict, backward: dict, lengths: str) -> str:
    """Time-major (T, B, F) -> (T, B, 2H): flax's Bidirectional of two
    OptimizedLSTMCells, outputs concatenated forward then backward."""
    hidden = np.asarray(forward["hi"]["kernel"]).shape[0]
    w, r, b = [], [], []
    for cell in (forward, backward):
      w.append(np.concatenate([np.asarray(cell["i" + g]["kernel"]).T for g in "iofg"]))
      r.append(np.concatenate([np.asarray(cell["h" + g]["kernel"]).T for g in "iofg"]))
      b.append(np.concatenate([np.zeros(4 * hidden, np.float32)] +
                              [np.asarray(cell["h" + g]["bias"]) for g in "iofg"]))
    y = self.op("LSTM", [x, self.weight(np.stack(w).astype(np.float32)),
                         self.weight(np.stack(r).astype(np.float32)),
                         self.weight(np.stack(b).astype(np.float32)), lengths],
                hidden_size=int(hidden), direction="bidirectional")   # (T, 2, B, H)
    y = self.op("Transpose", [y], perm=[0, 2, 1, 3])
    return self.op("Reshape", [y, self.weight(np.array([0, 0, -1], np.int64), "shape")])

  def lstm_stack(self, x: str, params: dict, layers: int, lengths: str) -> str:
    """(B, T, F) -> (B, T, 2H) through `layers` bidirectional LSTMs (flax
    names their cells OptimizedLSTMCell_0, _1, ... forward, backward, ...)."""
    x = self.op("Transpose", [x], perm=[1, 0, 2])
    for layer in range(layers):
      x = self.bidirectional_lstm(x, params[f"OptimizedLSTMCell_{2 * layer}"],
                                  params[f"OptimizedLSTMCell_{2 * layer + 1}"], lengths)
    return self.op("Transpose", [x], perm=[1, 0, 2])


def _images_to_nchw(g: GraphBuilder, images: str) -> str:
  """uint8 (B, H, W), ink bright -> float (B, 1, H, W) in [0, 1]."""
  x = g.op("Cast", [images], to=1)   # FLOAT
  x = g.op("Div", [x, g.weight(np.array(255.0, np.float32), "scale")])
  return g.op("Unsqueeze", [x, g.weight(np.array([1], np.int64), "axes")])


def _conv_block(g: GraphBuilder, x: str, p: dict) -> str:
  """ConvBlock: 'SAME' convolutions with ReLU, then 2x2 max pooling."""
  for k in range(len(p)):
    x = g.op("Relu", [g.conv(x, p[f"Conv_{k}"])])
  return g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])


def cnn_graph(params: dict, config) -> tuple:
  g = GraphBuilder()
  x = _images_to_nchw(g, "images")
  blocks = sorted((k for k in params if k.startswith("ConvBlock_")), key=lambda k: int(k[10:]))
  for block in blocks:
    x = _conv_block(g, x, params[block])
  x = g.op("Transpose", [x], perm=[0, 2, 3, 1])   # flax flattens NHWC
  x = g.op("Flatten", [x], axis=1)
  x = g.op("Relu", [g.dense(x, params["Dense_0"])])
  x = g.dense(x, params["Dense_1"])
  g.op("LogSoftmax", [x], "log_probs", axis=-1)
  inputs = [("images", "uint8", ["batch", 28, 28])]
  return g, inputs, [("log_probs", ["batch", int(np.asarray(params["Dense_1"]["bias"]).shape[0])])]


def crnn_graph(params: dict, config) -> tuple:
  g = GraphBuilder()
  x = _images_to_nchw(g, "images")
  model = config.model
  if model.get("backbone", "emnist") == "htr":
    pools = ((2, 2), (2, 2), None, (2, 1), None, (2, 1))
    backbone = params["HTRBackbone_0"]
    for k, pool in enumerate(pools):
      x = g.conv(x, backbone[f"Conv_{k}"])
      x = g.op("Relu", [g.layer_norm(x, backbone[f"LayerNorm_{k}"], nchw=True)])
      if pool is not None:
        x = g.op("MaxPool", [x], kernel_shape=list(pool), strides=list(pool))
  else:
    x = _conv_block(g, x, params["ConvBlock_0"])
    x = _conv_block(g, x, params["ConvBlock_1"])
    x = g.op("Relu", [g.conv(x, params["Conv_0"])])
  x = g.op("Transpose", [x], perm=[0, 3, 2, 1])   # (B, W', H', C): a vector per column, h * C + c
  x = g.op("Reshape", [x, g.weight(np.array([0, 0, -1], np.int64), "shape")])
  x = g.op("Relu", [g.dense(x, params["Dense_0"])])
  x = g.lstm_stack(x, params, model.get("lstm_layers", 1), "lengths")
  x = g.dense(x, params["Dense_1"])
  g.op("LogSoftmax", [x], "log_probs", axis=-1)
  height = config.words.get("height", 24)
  labels = int(np.asarray(params["Dense_1"]["bias"]).shape[0])
  inputs = [("images", "uint8", ["batch", height, "width"]), ("lengths", "int32", ["batch"])]
  return g, inputs, [("log_probs", ["batch", "frames", labels])]


def ink_graph(params: dict, config) -> tuple:
  from hwr_jax.preprocess.ink import NUM_FEATURES
  g = GraphBuilder()
  k = config.ink.points_per_frame
  x = g.op("Reshape", ["ink", g.weight(np.array([0, -1, k * NUM_FEATURES], np.int64), "shape")])
  x = g.op("Relu", [g.layer_norm(g.dense(x, params["Dense_0"]), params["LayerNorm_0"])])
  convs = len(config.model.conv_features) - 1
  for c in range(convs):
    x = g.op("Transpose", [x], perm=[0, 2, 1])        # (B, C, T) for Conv
    x = g.op("Transpose", [g.conv(x, params[f"Conv_{c}"])], perm=[0, 2, 1])
    x = g.op("Relu", [g.layer_norm(x, params[f"LayerNorm_{c + 1}"])])
  x = g.lstm_stack(x, params, config.model.lstm_layers, "lengths")
  x = g.dense(x, params["Dense_1"])
  g.op("LogSoftmax", [x], "log_probs", axis=-1)
  labels = int(np.asarray(params["Dense_1"]["bias"]).shape[0])
  inputs = [("ink", "float32", ["batch", "points", NUM_FEATURES]), ("lengths", "int32", ["batch"])]
  return g, inputs, [("log_probs", ["batch", "frames", labels])]


GRAPHS = {"cnn": cnn_graph, "crnn": crnn_graph, "ink": ink_graph}


def to_onnx(model, metadata: dict | None = None):
  """An `inference.Model` as an onnx.ModelProto (checked), with `metadata`
  (charset, decoding settings, ...) as its metadata_props."""
  import onnx
  from onnx import TensorProto, helper
  builder = GRAPHS[model.name]
  g, inputs, outputs = builder(model.params, model.config)
  kinds = {"uint8": TensorProto.UINT8, "int32": TensorProto.INT32, "float32": TensorProto.FLOAT}
  graph = helper.make_graph(
      g.nodes, f"hwr_jax_{model.name}",
      [helper.make_tensor_value_info(n, kinds[t], shape) for n, t, shape in inputs],
      [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in outputs],
      g.weights)
  proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                            producer_name="hwr-jax")
  proto.ir_version = 8   # what onnxruntime 1.x and onnxruntime-web read
  for key, value in (metadata or {}).items():
    entry = proto.metadata_props.add()
    entry.key, entry.value = key, value
  onnx.checker.check_model(proto, full_check=True)
  return proto
