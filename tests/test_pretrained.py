"""The pretrained models shipped in the package: each is complete (weights,
config, model card, sha256 sums), within the size limits, loads by name and
reads inputs the tests make; hwr-read uses them with no flags; an unknown name
lists the known ones; a damaged weights file is one clear error."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from hwr_jax import pretrained
from hwr_jax.checkpoints import CheckpointDamagedError, ModelLoadError
from hwr_jax.checkpoints.exported import verify
from tests_helpers import draw_line, write_json, write_strokes

NAMES = pretrained.names()
MB = 1_000_000


def test_models_are_shipped_within_the_size_limits():
  assert "ondb-lines" in NAMES
  sizes = {n: sum(os.path.getsize(os.path.join(pretrained.find(n), f))
                  for f in os.listdir(pretrained.find(n))) for n in NAMES}
  assert all(size <= 8 * MB for size in sizes.values()), sizes
  assert sum(sizes.values()) <= 25 * MB, sizes


@pytest.mark.parametrize("name", NAMES)
def test_each_model_has_its_card_sums_and_summary(name):
  folder = pretrained.find(name)
  verify(folder)   # every file's sha256 as listed
  card = open(os.path.join(folder, "MODEL.md"), encoding="utf-8").read()
  for section in ("## Data", "## Training", "## Results", "## Speed", "## Licence"):
    assert section in card, f"{name}/MODEL.md lacks {section!r}"
  assert "python launch.py --config=configs/" in card   # the command that trained it
  info = pretrained.summary(name)
  assert info["name"] == name and info["task"] and info["result"]
  config = json.load(open(os.path.join(folder, "config.json")))
  paths = [v for v in json.dumps(config).split('"') if v.startswith("/")]
  assert not paths, f"{name}/config.json names the training machine's folders: {paths}"


@pytest.mark.parametrize("name", NAMES)
def test_each_model_reads_by_name_what_the_test_writes(name):
  """Every shipped model loads by name and reads an input of its kind: ink
  for the ink model, a picture of written letters for the others (a word
  model, a line model, or a character classifier through the segmentation
  reader)."""
  import hwr_jax
  from hwr_jax.readers.ink import InkReader
  reader = hwr_jax.load_reader(name)
  rng = np.random.default_rng(3)
  if isinstance(reader, InkReader):
    reading = reader.read([s[:, :2] for s in write_strokes("lion", rng)])
  else:
    reading = reader.read(draw_line("lion", rng))
  assert reading.error is None and reading.text
  assert reading.confidence is None or 0 <= reading.confidence <= 1


def test_the_ink_model_reads_strokes_by_name():
  import hwr_jax
  reader = hwr_jax.load_reader("ondb-lines")
  rng = np.random.default_rng(0)
  strokes = write_strokes("clio", rng) + write_strokes("ozz", rng, origin=(0.0, 400.0))
  reading = reader.read([s[:, :2] for s in strokes])
  assert len(reading.lines) == 2 and 0 <= reading.confidence <= 1
  assert all(line.text for line in reading.lines)


def test_hwr_read_needs_no_flags_and_names_the_models(tmp_path):
  rng = np.random.default_rng(1)
  write_json(tmp_path / "note.ink.json", write_strokes("lion", rng))
  run = subprocess.run([sys.executable, "-m", "hwr_jax.read", str(tmp_path / "note.ink.json")],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert run.returncode == 0, run.stderr
  path, text, confidence = run.stdout.strip().split("\t")
  assert path.endswith("note.ink.json") and text and 0 <= float(confidence) <= 1
  listed = subprocess.run([sys.executable, "-m", "hwr_jax.read", "--list-models"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
  assert [l.split()[0] for l in listed.stdout.splitlines()] == NAMES
  reader_gone, output = os.pipe()   # `hwr-read ... | head`: the reader stops before the output
  os.close(reader_gone)
  cut_off = subprocess.run([sys.executable, "-m", "hwr_jax.read", "--list-models"], stdout=output,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
  os.close(output)
  assert cut_off.returncode == 1 and cut_off.stderr == ""   # no traceback
  unknown = subprocess.run([sys.executable, "-m", "hwr_jax.read", "x.png", "--model=nope"],
                           capture_output=True, text=True, cwd=ROOT, timeout=60)
  assert unknown.returncode == 2 and "ondb-lines" in unknown.stderr
  with pytest.raises(ModelLoadError, match="No pretrained model 'nope'; the models are: .*ondb"):
    pretrained.find("nope")


def test_hwr_read_decodes_with_the_model_s_chosen_decoder(tmp_path):
  """With no --decoder, the default image model reads with the decoder its
  model.json names (the dictionary, for iam-words): on a drawing where that
  decoder and best path disagree, hwr-read gives that decoder's text."""
  import cv2
  import hwr_jax
  name = pretrained.default_for("image")
  chosen = pretrained.default_decoder(pretrained.find(name))
  assert chosen == "lexicon"
  readers = {d: hwr_jax.load_reader(name, decoder=d) for d in ("best_path", chosen)}
  rng = np.random.default_rng(4)
  for i, word in enumerate(["lion", "zinc", "coil", "violin", "civil", "colon", "onion", "lion"]):
    path = str(tmp_path / f"{i}.png")
    cv2.imwrite(path, draw_line(word, rng))
    texts = {d: r.read_file(path).text for d, r in readers.items()}
    if texts["best_path"] != texts[chosen]:
      break
  else:
    pytest.fail(f"best path and {chosen} agree on every drawing: {texts}")
  run = subprocess.run([sys.executable, "-m", "hwr_jax.read", path], capture_output=True,
                       text=True, cwd=ROOT, timeout=300)
  assert run.returncode == 0, run.stderr
  assert run.stdout.split("\t")[1] == texts[chosen]


def test_a_damaged_weights_file_is_one_clear_error(tmp_path):
  import hwr_jax
  copy = tmp_path / "ondb-lines"
  shutil.copytree(pretrained.find("ondb-lines"), copy)
  weights = copy / "model.safetensors"
  data = bytearray(weights.read_bytes())
  data[len(data) // 2] ^= 0xFF
  weights.write_bytes(bytes(data))
  with pytest.raises(CheckpointDamagedError, match="model.safetensors is damaged: its sha256"):
    hwr_jax.load_reader(str(copy))
  run = subprocess.run([sys.executable, "-m", "hwr_jax.read", "x.ink.json", f"--workdir={copy}"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert run.returncode == 2
  assert run.stderr.count("error:") == 1 and "model.safetensors is damaged" in run.stderr
  sums = (copy / "SHA256SUMS").read_text().splitlines()   # a SUMS that leaves the weights out
  (copy / "SHA256SUMS").write_text("\n".join(l for l in sums if "model.safetensors" not in l))
  with pytest.raises(CheckpointDamagedError, match="SHA256SUMS is damaged"):
    verify(str(copy))


def test_a_pretrained_model_reads_with_onnxruntime_and_no_jax_after_its_first_run(tmp_path):
  """hwr-read exports a pretrained model's graph into the cache folder once;
  later runs read with onnxruntime and never import JAX, with the JAX
  reader's text. --engine=jax still runs JAX; --engine=onnx on a training
  run's workdir is refused, as is a reader that does not fit the model; an
  unwritable cache folder falls back to JAX."""
  pytest.importorskip("onnxruntime")
  import cv2
  png = str(tmp_path / "word.png")
  cv2.imwrite(png, draw_line("zinc", np.random.default_rng(9)))
  env = dict(os.environ, HWR_JAX_CACHE_DIR=str(tmp_path / "cache"))
  args = [png, "--model=iam-words", "--decoder=best_path"]

  def hwr_read(*extra, code=None):
    command = ([sys.executable, "-m", "hwr_jax.read", *args, *extra] if code is None else
               [sys.executable, "-c", code])
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()

  first = hwr_read()
  assert os.listdir(tmp_path / "cache" / "onnx")   # the graph, exported
  second = hwr_read(code=(
      "import runpy, sys\n"
      f"sys.argv = ['hwr-read', *{args!r}]\n"
      "try:\n  runpy.run_module('hwr_jax.read', run_name='__main__')\n"
      "except SystemExit:\n  pass\n"
      "print('JAX imported' if 'jax' in sys.modules else 'no JAX')"))
  assert second[-1] == "no JAX" and second[0] == first[0]
  assert hwr_read("--engine=jax") == first
  refused = subprocess.run([sys.executable, "-m", "hwr_jax.read", png, "--engine=onnx",
                            f"--workdir={tmp_path}"], capture_output=True, text=True, cwd=ROOT,
                           env=env, timeout=120)
  assert refused.returncode == 2 and "hwr-export" in refused.stderr
  wrong = subprocess.run([sys.executable, "-m", "hwr_jax.read", *args, "--reader=segment"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
  assert wrong.returncode == 2 and "--reader=crnn" in wrong.stderr
  # A cache folder that cannot be written: read with JAX, saying so.
  (tmp_path / "a-file").write_text("")
  env["HWR_JAX_CACHE_DIR"] = str(tmp_path / "a-file" / "cache")
  fallback = subprocess.run([sys.executable, "-m", "hwr_jax.read", *args], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=300)
  assert fallback.returncode == 0 and fallback.stdout.splitlines() == first
  assert "warning: reading with JAX" in fallback.stderr


def test_iam_lines_reads_a_page_with_its_word_model(tmp_path):
  """hwr-read --model=iam-lines re-reads each line's words with iam-words
  (its model.json's choice); --word-widths that are not numbers are one
  clear error. With no model named, hwr-read gives a page to iam-lines and
  a word to the default image model."""
  import cv2
  from tests_helpers import compose_page
  assert pretrained.default_word_model(pretrained.find("iam-lines")) == "iam-words"
  rng = np.random.default_rng(3)
  page, truth = compose_page(["lion coil", "zinc civil onion"], rng)
  cv2.imwrite(str(tmp_path / "page.png"), page)
  env = dict(os.environ, HWR_JAX_CACHE_DIR=str(tmp_path / "cache"))

  def hwr_read(*extra):
    return subprocess.run([sys.executable, "-m", "hwr_jax.read", str(tmp_path / "page.png"),
                           "--model=iam-lines", "--json", *extra], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
  run = hwr_read("--word-widths=1,0.8")
  assert run.returncode == 0, run.stderr
  reading = json.loads(run.stdout)
  assert len(reading["lines"]) == len(truth) == 2
  for line in reading["lines"]:
    assert " ".join(w["text"] for w in line["words"]) == " ".join(line["text"].split())
  bad = hwr_read("--word-widths=wide")
  assert bad.returncode == 2 and "--word-widths takes numbers" in bad.stderr
  # No model named: a page goes to the page model, a word to the word model.
  cv2.imwrite(str(tmp_path / "word.png"), draw_line("lion", rng))
  both = subprocess.run([sys.executable, "-m", "hwr_jax.read", str(tmp_path / "page.png"),
                         str(tmp_path / "word.png"), "--json"], capture_output=True, text=True,
                        cwd=ROOT, env=env, timeout=300)
  assert both.returncode == 0, both.stderr
  page_json, word_json = (json.loads(l) for l in both.stdout.splitlines())
  assert [l["box"] for l in page_json["lines"]] == [l["box"] for l in reading["lines"]]
  assert "lines" not in word_json and word_json["text"]
