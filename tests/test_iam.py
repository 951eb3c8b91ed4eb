"""IAM words: the real files' quirks, the writer split, real-word batches
and augmentation, and a tiny IAM-format run end to end (training, hwr-read,
the evaluation script). The IAM-format folders are made here; IAM itself is
never needed."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import ROOT, synthetic_glyphs
from hwr_jax.data import iam, word_batches, word_sources
from hwr_jax.preprocess import augment
from hwr_jax.preprocess.word_input import InputGeometry, frames_needed
from hwr_jax.data.errors import DataError

# writer -> split: 3 and 10 test, 4 validation, others training
WRITERS = {"a01-000u": 0, "a01-000x": 1, "a01-003": 2, "a01-003u": 3, "a01-007": 4,
           "a01-011": 10}
TEXTS = ["A", "MOVE", "to", "stop", "Mr.", "Gaitskell", "from", "nominating", "any", "more",
         "Labour", "life", "Peers", "1958", "the", "and"]


def write_iam_folder(root, texts_per_form=16, crlf=True):
  """An IAM-format folder: ascii/forms.txt, words.txt (CRLF, comments, an
  'err' line, a label with a space, a 0-byte image, a missing image) and
  words/<a01>/<form>/<id>.png rendered from synthetic glyphs."""
  from hwr_jax.data import word_synthesis
  images, labels = synthetic_glyphs(124, 62, every_class=True)
  bank = word_synthesis.GlyphBank(images, labels)
  rng = np.random.default_rng(0)
  lines = ["#--- words.txt ---", "#", "# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A", "#"]
  for form, writer in WRITERS.items():
    folder = root / "words" / form.split("-")[0] / form
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(texts_per_form):
      word_id = f"{form}-{i // 8:02d}-{i % 8:02d}"
      text = TEXTS[(i + writer) % len(TEXTS)]
      glyphs = "".join(c for c in text if c.isalnum())     # the bank has no punctuation
      cv2.imwrite(str(folder / f"{word_id}.png"), word_synthesis.render_word(glyphs, bank, rng))
      lines.append(f"{word_id} ok 154 408 768 27 51 NN {text}")
  lines.append("a01-000u-05-00 err 156 430 1290 177 59 NPTS bad crop")   # status err
  lines.append("a01-000u-05-01 ok 156 430 1290 177 59 NPTS M Ps")        # label with a space
  cv2.imwrite(str(root / "words/a01/a01-000u/a01-000u-05-01.png"),
              word_synthesis.render_word("MPs", bank, rng))
  lines.append("a01-000u-05-02 ok 156 430 1290 177 59 NP Powell")        # 0-byte image
  (root / "words/a01/a01-000u/a01-000u-05-02.png").write_bytes(b"")
  lines.append("a01-000u-05-03 ok 156 430 1290 177 59 NP Gone")          # no image file
  newline = "\r\n" if crlf else "\n"
  (root / "words.txt").write_bytes((newline.join(lines) + newline).encode())
  (root / "ascii").mkdir(exist_ok=True)
  forms = ["#--- forms.txt ---", "# format: a01-000u 000 2 prt 7 5 52 36"]
  forms += [f"{form} {writer:03d} 2 prt 7 5 52 36" for form, writer in WRITERS.items()]
  (root / "ascii" / "forms.txt").write_bytes(("\r\n".join(forms) + "\r\n").encode())
  return root


def test_writer_split_is_fixed_by_writer_id():
  assert [iam.writer_split(w) for w in (0, 3, 4, 10, 11, 549, 550, 551)] == \
      ["train", "test", "validation", "test", "validation", "test", "validation", "train"]


def test_real_words_txt_quirks_are_read(tmp_path):
  root = write_iam_folder(tmp_path)
  entries = {w.word_id: w for w in iam.read_words(str(root))}
  assert len(entries) == len(WRITERS) * 16 + 4
  assert entries["a01-000u-00-01"].text == "MOVE"                # no '\r' left on the text
  assert entries["a01-000u-05-01"].text == "M Ps" and entries["a01-000u-05-01"].ok
  assert not entries["a01-000u-05-00"].ok
  assert entries["a01-003u-00-00"].split == "test" and entries["a01-003u-00-00"].writer == 3
  assert entries["a01-007-00-00"].split == "validation"
  assert entries["a01-000u-00-00"].path.endswith("words/a01/a01-000u/a01-000u-00-00.png")


def test_missing_or_broken_iam_files_say_what_to_do(tmp_path):
  with pytest.raises(DataError, match="words.txt and forms.txt not found.*registration"):
    iam.read_words(str(tmp_path))
  root = write_iam_folder(tmp_path)
  (root / "ascii" / "forms.txt").write_text("a01-000u 000 2 prt 7 5 52 36\n")
  with pytest.raises(DataError, match="form a01-000x is not in"):
    iam.read_words(str(root))
  (root / "words.txt").write_text("a01-000u-00-00 ok 154\n")
  with pytest.raises(DataError, match="words.txt:1: not an IAM words.txt line"):
    iam.read_words(str(root))


def iam_config(root, **overrides):
  from configs import iam_words
  config = iam_words.get_config()
  config.model.update(backbone_features=(8, 8, 16, 16, 16, 16), dense_features=16,
                      lstm_features=16, lstm_layers=1)
  config.words.update(path=str(root), buckets=(64, 128, 256))
  config.update(batch_size=8, eval_batch_size=8, num_epochs=2, log_every_steps=2,
                learning_rate=3e-3, **overrides)
  return config


def test_iam_source_splits_by_writer_and_reports_bad_images(tmp_path, capsys):
  source = word_sources.create(iam_config(write_iam_folder(tmp_path)))
  train_texts, val_texts = source.train[1], source.validation[1]
  assert len(val_texts) == 16 and len(train_texts) == 3 * 16 + 1   # + 'M Ps'; not the err line
  assert "M Ps" in train_texts and "bad crop" not in train_texts
  assert source.charset == "".join(sorted(set("".join(train_texts))))
  assert " " in source.charset                      # from 'M Ps': the dataset's characters
  assert "2 image files missing, empty or unreadable" in capsys.readouterr().out
  assert source.training_vocabulary()["M Ps"] == 1 and source.steps_per_epoch == len(train_texts) // 8
  assert all(im.shape[0] == 32 and im.dtype == np.uint8 for im in source.validation[0])


def test_batches_are_bucketed_agree_across_hosts_and_repeat(tmp_path):
  source = word_sources.create(iam_config(write_iam_folder(tmp_path)))
  one = list(source.train_batches(epoch=0))
  again = list(source.train_batches(epoch=0))
  halves = [list(source.train_batches(0, shard, 2)) for shard in (0, 1)]
  assert len(one) == source.steps_per_epoch
  for full, repeat, a, b in zip(one, again, *halves):
    np.testing.assert_array_equal(full["image"], repeat["image"])
    assert full["image"].shape[1:] == a["image"].shape[1:] == b["image"].shape[1:]   # same bucket
    assert full["image"].shape[0] == 8 and a["image"].shape[0] == b["image"].shape[0] == 4
    np.testing.assert_array_equal(np.concatenate([a["label"], b["label"]]), full["label"])
    # every word has at least the frames CTC needs
    needed = [frames_needed([c for c in row if c]) for row in full["label"]]
    assert (full["length"] >= needed).all()
  assert not np.array_equal(one[0]["image"], list(source.train_batches(epoch=1))[0]["image"])


def test_plan_batches_uses_each_example_once_in_the_smallest_fitting_bucket():
  rng = np.random.default_rng(0)
  widths = rng.integers(10, 250, 203)
  plan = word_batches.plan_batches(widths, (64, 128, 256), 16, rng)
  assert len(plan) == 203 // 16
  used = np.concatenate([index for index, _ in plan])
  assert len(set(used.tolist())) == len(used)
  for index, bucket in plan:
    assert len(index) == 16 and (widths[index] <= bucket).all()
  padding = sum(bucket * len(index) - widths[index].sum() for index, bucket in plan)
  shuffled = widths[rng.permutation(len(widths))][:len(plan) * 16].reshape(-1, 16)
  padding_in_random_batches = sum(
      InputGeometry(buckets=(64, 128, 256)).bucket(b.max()) * 16 - b.sum() for b in shuffled)
  assert padding < 0.75 * padding_in_random_batches


def test_distort_keeps_the_ink_and_the_planned_width():
  image = np.zeros((32, 60), np.uint8)
  image[8:24, 10:50] = 255
  rng = np.random.default_rng(0)
  for width, slant in [(60, 0.0), (90, 0.3), (40, -0.4)]:
    out = augment.distort(image, width, slant, rng)
    assert out.shape == (32, width) and out.dtype == np.uint8
    assert (out > 128).sum() > 0.3 * (image > 128).sum() * width / 60


@pytest.fixture(scope="module")
def iam_run(tmp_path_factory):
  from hwr_jax.training import words as train_words
  root = write_iam_folder(tmp_path_factory.mktemp("iam"))
  workdir = root / "run"
  results = train_words.train_and_evaluate(iam_config(root), str(workdir))
  return root, workdir, results


def test_iam_training_stores_the_charset_and_vocabulary(iam_run):
  from hwr_jax import inference
  from hwr_jax.data import vocabulary
  root, workdir, results = iam_run
  records = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert len(records) == 2 and records[1]["train_loss"] < records[0]["train_loss"]
  model = inference.load_model(str(workdir))
  assert model.charset == word_sources.create(iam_config(root)).charset
  counts = vocabulary.read(str(workdir))
  assert counts["M Ps"] == 1 and "Powell" not in counts and sum(counts.values()) == 49
  # the end of training read the test writers' words (3 and 10: % 7 == 3) with best path
  assert results["what"].startswith("IAM test writers") and results["num_words"] == 32


def test_the_share_of_numbers_among_training_words_is_counted_and_smoothed():
  import collections

  from hwr_jax.language.defaults import number_share
  counts = collections.Counter({"1984": 3, "the": 5, "12a": 1, "3.5": 1})
  assert number_share(counts) == pytest.approx((3 + 1) / (10 + 2))
  assert 0 < number_share(collections.Counter({"the": 9})) < 0.1


def test_hwr_read_and_the_evaluation_script_read_iam_words(iam_run, tmp_path):
  root, workdir, _ = iam_run
  image = root / "words/a01/a01-003u/a01-003u-00-00.png"
  result = subprocess.run([sys.executable, "-m", "hwr_jax.read", str(image),
                           f"--workdir={workdir}", "--reader=crnn", "--decoder=lexicon", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  reading = json.loads(result.stdout)
  assert 0 <= reading["confidence"] <= 1
  out = tmp_path / "out"
  result = subprocess.run([sys.executable, "experiments/iam_words.py", f"--workdir={workdir}",
                           f"--iam={root}", f"--out={out}", "--decoders=best_path,lexicon"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  results = json.load(open(out / "results.json"))
  assert len(results["texts"]) == 32                 # writers 3 and 10: two forms of 16 words
  assert [r["decoder"] for r in results["results"]] == ["best_path", "lexicon"]
  assert (out / "val_cer.png").exists() and "| hwr-jax CRNN, lexicon |" in (out / "results.md").read_text()
