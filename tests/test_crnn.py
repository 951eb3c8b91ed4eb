import json
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT
from hwr_jax import checkpoints, inference
from hwr_jax.data import word_batches
from hwr_jax.models.crnn import CRNN, output_length
from hwr_jax.preprocess.word_input import DEFAULT_HEIGHT as HEIGHT, InputGeometry, to_input
from hwr_jax.training import words as train_words
from tests_helpers import tiny_word_config, tiny_workdir


@pytest.mark.parametrize("width", [48, 96, 192])
def test_output_length_for_an_image_width(width):
  model = CRNN(num_labels=63)
  images = jnp.zeros((2, HEIGHT, width, 1))
  lengths = jnp.array([output_length(width), output_length(width) // 2])
  params = model.init(jax.random.key(0), images, lengths)
  logits = model.apply(params, images, lengths)
  assert logits.shape == (2, output_length(width), 63) and output_length(width) == width // 4


def test_word_batches_pad_to_a_bucket_and_mask_labels():
  images = [np.full((40, w), 230, np.uint8) for w in (60, 90)]
  for im in images:
    im[10:30, 5:-5] = 20
  geometry = InputGeometry(buckets=(48, 96, 192))
  batch = word_batches.make_batch(images, ["ab", "Hello"], "abHelo", geometry, 6)
  assert batch["image"].shape[0] == 2 and batch["image"].shape[1] == HEIGHT
  assert batch["image"].shape[2] in (48, 96, 192)
  assert batch["label"].tolist() == [[1, 2, 0, 0, 0, 0], [3, 4, 5, 5, 6, 0]]
  assert batch["label_padding"].tolist()[0] == [0, 0, 1, 1, 1, 1]
  assert (batch["length"] == [p // 4 for p in (to_input(im, geometry).shape[1] for im in images)]).all()


def test_init_from_a_trained_classifier(tmp_path):
  classifier = tiny_workdir(tmp_path)
  config = tiny_word_config(tmp_path)
  config.init_from = classifier
  state = train_words.create_train_state(config, "x" * 62, steps_per_epoch=10)
  cnn = inference.load_model(classifier)
  jax.tree.map(np.testing.assert_array_equal, state.params["ConvBlock_1"], cnn.params["ConvBlock_1"])


@pytest.fixture(scope="module")
def word_workdir(tmp_path_factory):
  folder = tmp_path_factory.mktemp("words")
  train_words.train_and_evaluate(tiny_word_config(folder), str(folder / "run"))
  return str(folder / "run")


def test_short_training_lowers_the_ctc_loss(word_workdir):
  records = [json.loads(l) for l in open(f"{word_workdir}/metrics.jsonl")]
  assert len(records) == 2 and records[1]["train_loss"] < 0.8 * records[0]["train_loss"]
  assert 0 <= records[1]["val_cer"]


def hwr_read(*args):
  return subprocess.run([sys.executable, "-m", "hwr_jax.read", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)


def test_cli_reads_words_with_every_decoder(word_workdir, tmp_path):
  image = np.full((50, 120), 225, np.uint8)
  image[12:38, 10:20] = 30
  image[12:38, 40:70] = 30
  import cv2
  cv2.imwrite(str(tmp_path / "w.png"), image)
  cv2.imwrite(str(tmp_path / "blank.png"), np.full((50, 120), 225, np.uint8))
  noise = np.random.default_rng(0).integers(0, 65536, (50, 120)).astype(np.uint16)
  cv2.imwrite(str(tmp_path / "noise16.png"), noise)
  (tmp_path / "lexicon.txt").write_text("hello 10\nworld 3\n")
  for decoder in ("best_path", "beam", "beam_lm", "lexicon", "token_passing"):
    extra = [f"--lexicon={tmp_path / 'lexicon.txt'}"] if decoder in ("lexicon", "token_passing") \
        else []
    result = hwr_read(str(tmp_path), f"--workdir={word_workdir}", "--reader=crnn",
                      f"--decoder={decoder}", "--json", *extra)
    assert result.returncode == 1, result.stderr[-2000:]       # blank.png fails
    lines = {json.loads(l)["file"].split("/")[-1]: json.loads(l) for l in result.stdout.splitlines()}
    assert "no ink" in lines["blank.png"]["error"]
    assert "no handwriting found" in lines["noise16.png"]["error"]
    assert 0 <= lines["w.png"]["confidence"] <= 1 and isinstance(lines["w.png"]["text"], str)
  # Word beam search reads lines: a model without a space in its charset is told so.
  result = hwr_read(str(tmp_path / "w.png"), f"--workdir={word_workdir}", "--reader=crnn",
                    "--decoder=word_beam")
  assert result.returncode == 2 and "no space in its charset" in result.stderr


def test_cli_refuses_a_classifier_for_the_crnn_reader(tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model": {"name": "cnn"}}))
  result = hwr_read("x.png", f"--workdir={tmp_path}", "--reader=crnn")
  assert result.returncode == 2 and "needs a word model" in result.stderr


def write_word_images(folder, texts):
  import cv2
  from hwr_jax.data import word_synthesis
  from conftest import synthetic_glyphs
  images, labels = synthetic_glyphs(124, 62, every_class=True)
  bank = word_synthesis.GlyphBank(images, labels)
  rng = np.random.default_rng(0)
  for i, text in enumerate(texts):
    cv2.imwrite(str(folder / f"w{i}.png"), word_synthesis.render_word(text, bank, rng))


def test_labels_tsv_folder_trains_the_crnn(tmp_path):
  from hwr_jax.data import word_sources
  texts = ["hello", "World", "42", "abc", "xyz", "Quick"] * 4
  write_word_images(tmp_path, texts)
  lines = [f"w{i}.png\t{t}" for i, t in enumerate(texts)]
  lines += ["missing.png\tgone", "w0.png\tnaïve", "w1.png\tfar too long for the reader"]
  (tmp_path / "labels.tsv").write_text("\n".join(lines) + "\n")
  config = tiny_word_config(tmp_path, num_epochs=1)
  config.words.update(source="folder", path=str(tmp_path))
  source = word_sources.create(config)
  # validation: the last 5 lines, less the missing file; training: the rest
  assert len(source.train[0]) == 22 and len(source.validation[0]) == 4
  assert "naïve" in source.validation[1] and source.charset == "".join(sorted(set("".join(texts))))
  batch = next(source.train_batches(0))
  assert batch["image"].shape[:2] == (config.batch_size, 24)
  results = train_words.train_and_evaluate(config, str(tmp_path / "run"))
  record = json.loads(open(tmp_path / "run" / "metrics.jsonl").readline())
  assert record["epoch"] == 1 and np.isfinite(record["train_loss"])
  # At the end of training, the best checkpoint is evaluated (a folder has no test split).
  assert "no test split" in results["what"] and results["num_words"] == 4
  assert results["decoders"]["best_path"]["cer"] == pytest.approx(record["val_cer"])
  assert (tmp_path / "run" / "training_curves.png").exists()
  # A moved data folder is not another experiment: the run resumes from its checkpoint.
  moved = tmp_path / "moved"
  shutil.copytree(tmp_path, moved, ignore=shutil.ignore_patterns("run", "moved"))
  config.words.path, config.num_epochs = str(moved), 2
  train_words.train_and_evaluate(config, str(tmp_path / "run"))
  assert [json.loads(l)["epoch"] for l in open(tmp_path / "run" / "metrics.jsonl")] == [1, 2]
  # Data whose texts have other characters cannot go on training this model: said so,
  # before any array is read (not taken for a damaged checkpoint).
  (moved / "labels.tsv").write_text("\n".join(lines).replace("hello", "Zebra") + "\n")
  config.num_epochs = 3
  with pytest.raises(checkpoints.CheckpointMismatchError, match="new: 'Z'"):
    train_words.train_and_evaluate(config, str(tmp_path / "run"))


def test_launch_evaluates_a_word_model_with_each_decoder(word_workdir, tmp_path):
  """`launch.py --mode=evaluate` on a word model (here with the run's own config.json)."""
  from tests_helpers import launch_evaluate
  result = launch_evaluate(word_workdir, tmp_path, "--decoders=best_path,lexicon")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "| best_path |" in result.stdout and "| lexicon |" in result.stdout
  saved = json.load(open(f"{word_workdir}/eval_test_words.json"))
  assert set(saved["decoders"]) == {"best_path", "lexicon"} and saved["num_words"] == 16
  assert len(saved["hypotheses"]["lexicon"]) == 16 and "no test split" in saved["what"]
  refused = launch_evaluate(word_workdir, tmp_path, "--decoders=word_beam")
  assert refused.returncode == 1 and "Unknown or unfit decoders ['word_beam']" in refused.stderr


def test_load_reader_finds_the_crnn_and_reads_in_batches(word_workdir):
  import hwr_jax
  from hwr_jax.readers.crnn import CRNNReader
  reader = hwr_jax.load_reader(word_workdir, decoder="beam", compilation_cache=False)
  assert isinstance(reader, CRNNReader) and len(reader.charset) == 62
  images = []
  for width in (40, 90, 150):
    image = np.full((40, width), 220, np.uint8)
    image[10:30, 5:width - 5:9] = 30
    images.append(image)
  many = reader.read_many(images)
  for image, reading in zip(images, many):
    one = reader.read(image)
    assert reading.text == one.text and reading.confidence == pytest.approx(one.confidence, abs=1e-3)
    assert reading.frames.shape[1] == len(reader.charset) + 1
    np.testing.assert_allclose(reading.frames.sum(1), 1, atol=1e-4)


def test_the_language_model_weight_reaches_the_decoder(word_workdir):
  import hwr_jax
  from hwr_jax.readers.base import ReaderError
  probs = np.full((6, 63), 0.01)
  probs[:, 0] = 0.37                    # nearly flat frames: the language model decides
  probs[[1, 3], 0] = 0.01
  texts = {}
  for weight in (0.0, 5.0):
    reader = hwr_jax.load_reader(word_workdir, "crnn", decoder="beam_lm", lm_weight=weight,
                                 compilation_cache=False)
    assert reader.decoder.lm_weight == weight
    texts[weight] = reader.decoder.decode(probs / probs.sum(1, keepdims=True), "beam_lm")[0]
  assert texts[0.0] != texts[5.0], texts
  with pytest.raises(ReaderError, match="lm_weight"):
    hwr_jax.load_reader(word_workdir, "crnn", decoder="beam_lm", lm_weight=-1.0,
                        compilation_cache=False)


def test_fine_tuning_starts_from_a_word_model_and_adds_new_characters(word_workdir, tmp_path):
  """init_from a word model's workdir (or a pretrained model's name): every
  layer starts from it; its characters keep their output rows and a new one
  ('#') gets a fresh row at the end; another architecture is refused."""
  texts = ["ab#", "cd", "#ef", "gh"] * 8
  write_word_images(tmp_path, [t.replace("#", "H") for t in texts])   # (no glyphs of '#')
  (tmp_path / "labels.tsv").write_text(
      "".join(f"w{i}.png\t{t}\n" for i, t in enumerate(texts)))
  config = tiny_word_config(tmp_path, num_epochs=1)
  config.words.update(source="folder", path=str(tmp_path))
  config.init_from = word_workdir
  task = train_words.WordTask(config)
  base = inference.load_model(word_workdir)
  assert task.charset == base.charset + "#"
  params = task.init_state().params
  output = max(params, key=lambda k: k.startswith("Dense") and int(k.split("_")[1]))
  np.testing.assert_array_equal(params[output]["kernel"][:, :len(base.charset) + 1],
                                base.params[output]["kernel"])
  assert params[output]["kernel"].shape[1] == len(base.charset) + 2
  for layer in params:
    if layer != output:
      jax.tree.map(np.testing.assert_array_equal, params[layer], base.params[layer])
  config.model.lstm_features = 32
  with pytest.raises(ValueError, match="model.lstm_features"):
    train_words.WordTask(config)
