"""ONNX export: each kind of model (classifier, word/line CRNN, ink) written
as an ONNX graph from its parameters gives, under onnxruntime, the
log-probabilities of the JAX model within 1e-4 on the valid frames, with
dynamic batch and width."""

import numpy as np
import pytest

from hwr_jax import inference

ort = pytest.importorskip("onnxruntime")


def session(model):
  from hwr_jax.exporting.onnx_graph import to_onnx
  proto = to_onnx(model, {"charset": model.charset})
  assert dict((p.key, p.value) for p in proto.metadata_props)["charset"] == model.charset
  return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_a_classifier_exports_to_the_same_log_probabilities(tmp_path):
  from tests_helpers import tiny_workdir
  model = inference.load_model(tiny_workdir(tmp_path))
  run = session(model)
  for n in (1, 5):
    crops = np.random.default_rng(n).integers(0, 255, (n, 28, 28)).astype(np.uint8)
    expected = log_softmax(model.logits(crops))
    np.testing.assert_allclose(run.run(None, {"images": crops})[0], expected, atol=1e-4)


def compare_sequences(model, run, inputs: dict, lengths: np.ndarray, jax_batch: dict):
  import jax

  from hwr_jax import models
  x = jax_batch["ink"] if "ink" in jax_batch else models.to_float(jax_batch["image"])
  expected = np.asarray(jax.nn.log_softmax(model.module.apply({"params": model.params}, x,
                                                               jax_batch["length"])))
  got = run.run(None, {**inputs, "lengths": lengths})[0]
  assert got.shape == expected.shape
  valid = np.arange(got.shape[1])[None] < lengths[:, None]
  assert np.abs(got - expected)[valid].max() < 1e-4


def test_a_line_crnn_exports_with_dynamic_batch_and_width(line_run):
  _, workdir, _ = line_run
  model = inference.load_model(str(workdir))
  run = session(model)
  rng = np.random.default_rng(0)
  for batch, width, lengths in ((1, 64, [16]), (3, 128, [32, 20, 5])):
    images = rng.integers(0, 255, (batch, model.geometry.height, width)).astype(np.uint8)
    lengths = np.array(lengths, np.int32)
    compare_sequences(model, run, {"images": images}, lengths,
                      {"image": images, "length": lengths})


def test_an_ink_model_exports_with_dynamic_batch_and_length(ink_run):
  _, workdir, _, _ = ink_run
  model = inference.load_model(str(workdir))
  run = session(model)
  rng = np.random.default_rng(1)
  for batch, points, lengths in ((1, 64, [16]), (2, 256, [64, 9])):
    ink = rng.normal(0, 1, (batch, points, 4)).astype(np.float32)
    lengths = np.array(lengths, np.int32)
    compare_sequences(model, run, {"ink": ink}, lengths, {"ink": ink, "length": lengths})


BLOCK_JAX = '''import sys
class _Block:
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in ("jax", "jaxlib", "flax", "orbax", "optax"):
      raise ImportError(f"{name} is not installed here (a JAX-free environment)")
sys.meta_path.insert(0, _Block())
'''


def test_hwr_export_verifies_and_hwr_read_reads_without_jax(line_run, ink_run, tmp_path):
  """hwr-export writes the graph and its settings and --verify agrees; then
  hwr-read --onnx reads pages and ink in a process where importing JAX, flax
  or orbax fails, with the same texts as the JAX readers."""
  import json
  import os
  import subprocess
  import sys

  import cv2

  from conftest import ROOT
  from hwr_jax import readers
  from tests_helpers import compose_page, draw_line, random_text, write_json, write_strokes
  rng = np.random.default_rng(3)
  page, _ = compose_page([random_text(rng) for _ in range(3)], rng)
  cv2.imwrite(str(tmp_path / "page.png"), page)
  cv2.imwrite(str(tmp_path / "line.png"), draw_line("lion zoo", rng))
  write_json(tmp_path / "note.ink.json", write_strokes("coil", rng))
  (tmp_path / "nojax").mkdir()
  (tmp_path / "nojax" / "sitecustomize.py").write_text(BLOCK_JAX)

  def run(*args, block_jax=False):
    env = dict(os.environ)
    if block_jax:
      env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "nojax"), ROOT])
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout

  for name, workdir, inputs in (("lines", line_run[1], ["page.png", "line.png"]),
                                ("ink", ink_run[1], ["note.ink.json"])):
    out = tmp_path / f"{name}.onnx"
    report = run("hwr_jax.export", f"--workdir={workdir}", f"--out={out}", "--verify",
                 *(str(tmp_path / f) for f in inputs))
    verified = json.loads(report.splitlines()[-1])
    assert verified["max_abs_log_prob_difference"] < 1e-4
    assert verified["same_best_path_text"] == verified["inputs"] > 0
    assert json.load(open(tmp_path / f"{name}.json"))["charset"]
    got = run("hwr_jax.read", *(str(tmp_path / f) for f in inputs), f"--onnx={out}", "--json",
              block_jax=True)
    reader = readers.load_reader(str(workdir))
    for line, path in zip(got.splitlines(), inputs):
      source = tmp_path / path
      expected = reader.read_file(str(source)).text
      assert json.loads(line)["text"] == expected
