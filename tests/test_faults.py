"""Fault injection: each fault is caused for real on small data the test
makes (a killed process, damaged files, a failing disk, a diverging run), and
each test checks what a user sees: exit status, one short message, which step
training resumed from, and that no earlier checkpoint was lost."""

import errno
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

import tests_helpers
from conftest import ROOT
from hwr_jax import checkpoints, training
from hwr_jax.training import classifier
from test_train import small_config


# -- helpers ------------------------------------------------------------------

@pytest.fixture(scope="module")
def glyph_files(tmp_path_factory):
  """1,500 synthetic glyphs: 42 steps of 32 per epoch (a few seconds)."""
  return tests_helpers.glyph_files(tmp_path_factory.mktemp("glyphs"), 1500)


def launch_args(workdir, paths, epochs=2, *extra):
  return [sys.executable, "launch.py", "--config=configs/dev_byclass.py", f"--workdir={workdir}",
          *[f"--config.data.{k}={v}" for k, v in paths.items()],
          "--config.batch_size=32", "--config.eval_batch_size=64", f"--config.num_epochs={epochs}",
          "--config.log_every_steps=2", *extra]


def start(args, env_extra=None, **kwargs):
  """Starts a command in the project root; `env_extra`: variables to set (None: unset)."""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
  for key, value in (env_extra or {}).items():
    if value is None:
      env.pop(key, None)
    else:
      env[key] = value
  return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kwargs)


def finish(process, timeout=300):
  out, err = process.communicate(timeout=timeout)
  return process.returncode, out, err


def wait_for_epoch(workdir, epoch: int, process, timeout=240):
  """Blocks until metrics.jsonl records `epoch` (the next epoch has begun)."""
  path = os.path.join(workdir, "metrics.jsonl")
  deadline = time.time() + timeout
  while time.time() < deadline:
    assert process.poll() is None, finish(process)
    if os.path.exists(path) and any(json.loads(l)["epoch"] == epoch
                                    for l in open(path) if l.strip()):
      return
    time.sleep(0.05)
  raise TimeoutError(f"epoch {epoch} never ended")


def params_of(workdir, step):
  path = next(s.path for s in checkpoints.kept_steps(workdir) if s.step == step)
  return checkpoints.restore_params(path)[0]


def assert_same(a, b):
  jax.tree.map(np.testing.assert_array_equal, a, b)


# -- a killed process -----------------------------------------------------------

KILL_DURING_SAVE = """
import os, signal, sys
import orbax.checkpoint as ocp
save = ocp.CheckpointManager.save
def save_then_die(self, step, *args, **kwargs):
  result = save(self, step, *args, **kwargs)   # the write goes on in the background
  if step > 84:
    os.kill(os.getpid(), signal.SIGKILL)
  return result
ocp.CheckpointManager.save = save_then_die
sys.argv = sys.argv[1:]
sys.path.insert(0, ".")
import runpy
runpy.run_path("launch.py", run_name="__main__")
"""


def test_sigkill_mid_epoch_and_during_a_save_then_the_same_command_resumes(glyph_files, tmp_path):
  workdir = str(tmp_path / "run")
  args = launch_args(workdir, glyph_files, 3)
  # 1. kill -9 in the middle of epoch 2: epoch 1's checkpoint is there.
  process = start(args)
  wait_for_epoch(workdir, 1, process)
  time.sleep(1.0)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert [s.step for s in checkpoints.kept_steps(workdir)] == [42]
  # 2. Resumed, and killed while epoch 3's checkpoint (step 126) is being written.
  code, out, err = finish(start([sys.executable, "-c", KILL_DURING_SAVE, *args[1:]]))
  assert code == -signal.SIGKILL, err[-2000:]
  assert "after epoch 1 (step 42)" in out + err
  # Step 126 is absent or complete, never half there; 84 is intact.
  assert 84 in [s.step for s in checkpoints.kept_steps(workdir)]
  # 3. The same command finishes the run.
  code, out, err = finish(start(args))
  assert code == 0, err[-2000:]
  assert [s.step for s in checkpoints.kept_steps(workdir)][-1] == 126
  assert not glob.glob(os.path.join(workdir, "checkpoints", "*tmp*"))   # cleaned up
  checkpoints.restore_params(checkpoints.find_checkpoint(workdir, "latest")[0])
  epochs = [json.loads(l)["epoch"] for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert epochs == [1, 2, 3]             # nothing logged twice, nothing missing


def test_sigterm_saves_mid_epoch_and_the_resumed_run_equals_an_unbroken_one(
    glyph_files, tmp_path):
  broken, unbroken = str(tmp_path / "broken"), str(tmp_path / "unbroken")
  straight = start(launch_args(unbroken, glyph_files, 2))
  process = start(launch_args(broken, glyph_files, 2))
  wait_for_epoch(broken, 1, process)
  time.sleep(1.0)
  process.send_signal(signal.SIGTERM)
  code, out, err = finish(process)
  assert code == 75, err[-2000:]          # EX_TEMPFAIL: stopped, resumable
  assert "Stopped by SIGTERM" in err and "Traceback" not in err
  stopped = checkpoints.kept_steps(broken)[-1].step
  assert 42 < stopped <= 84
  code, out, err = finish(start(launch_args(broken, glyph_files, 2)))
  assert code == 0, err[-2000:]
  assert f"(step {stopped})" in out + err
  assert finish(straight)[0] == 0
  # The same batches, dropout and augmentation after the stop: identical weights.
  assert_same(params_of(broken, 84), params_of(unbroken, 84))


# -- damaged checkpoint files ------------------------------------------------------

@pytest.fixture(scope="module")
def two_steps(glyph_files, tmp_path_factory):
  """A workdir with two kept steps (5 and 10), and each one's true weights."""
  config = small_config({**glyph_files}, num_epochs=2)
  config.data.max_train_examples = 160
  workdir = str(tmp_path_factory.mktemp("two_steps") / "run")
  classifier.train_and_evaluate(config, workdir)
  steps = [s.step for s in checkpoints.kept_steps(workdir)]
  assert steps == [5, 10], steps
  return config, workdir, {s: params_of(workdir, s) for s in steps}


def _damage(path: str, how: str) -> None:
  if how == "delete":
    os.remove(path)
  elif how == "truncate":
    os.truncate(path, os.path.getsize(path) // 2)
  elif how == "scramble":
    with open(path, "r+b") as f:
      f.write(os.urandom(os.path.getsize(path)))
  else:
    with open(path, "r+b") as f:
      f.seek(os.path.getsize(path) // 2)
      f.write(os.urandom(64))


DAMAGE = {  # file(s) in the newest step, and what is done to them
    "array data, random bytes": ("state/ocdbt.process_0/d/*", "bytes"),
    "array data, every byte random": ("state/ocdbt.process_0/d/*", "scramble"),
    "array data, truncated": ("state/ocdbt.process_0/d/*", "truncate"),
    "array data, deleted": ("state/ocdbt.process_0/d/*", "delete"),
    "OCDBT manifest, random bytes": ("state/manifest.ocdbt", "bytes"),
    "process manifest, random bytes": ("state/ocdbt.process_0/manifest.ocdbt", "bytes"),
    "_METADATA, random bytes": ("state/_METADATA", "bytes"),
    "_METADATA, missing": ("state/_METADATA", "delete"),
    "_sharding, random bytes": ("state/_sharding", "bytes"),
    "array_metadatas, random bytes": ("state/array_metadatas/process_0", "bytes"),
    "meta (config, sha256), random bytes": ("meta/metadata", "bytes"),
    "meta, missing": ("meta/metadata", "delete"),
    "_CHECKPOINT_METADATA, random bytes": ("_CHECKPOINT_METADATA", "bytes"),
    "commit_success.txt, missing": ("commit_success.txt", "delete"),
}


# A truncated array file leaves orbax's read coroutines unfinished when the
# restore fails; pytest reports each when it is collected (the CLI filters them).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_step_is_never_used_silently(two_steps, tmp_path, damage):
  config, source, truth = two_steps
  workdir = str(tmp_path / "run")
  shutil.copytree(source, workdir)
  pattern, how = DAMAGE[damage]
  files = glob.glob(os.path.join(workdir, "checkpoints", "10", pattern))
  assert files, pattern
  for path in files:
    _damage(path, how)

  # Prediction: the damaged step is refused with one message, or (a file it
  # does not need) its weights are exactly the saved ones.
  try:
    params, _ = checkpoints.restore_params(os.path.join(workdir, "checkpoints", "10"))
    assert_same(params, truth[10])
  except checkpoints.CheckpointDamagedError as e:
    assert "checkpoints/10 is damaged" in str(e) and "--checkpoint=" in str(e)
    assert "\n" not in str(e)

  # Training: resumes from the newest intact step; a skipped one is named and
  # set aside (not deleted); the weights are exactly that step's.
  store = checkpoints.CheckpointStore(workdir, config.to_dict())
  state, meta = store.restore(classifier.create_train_state(config, 62, 5))
  step = int(state.step)
  assert_same(jax.device_get(state.params), truth[step])
  if step == 5:
    assert meta["epoch"] == 1 and "checkpoints/10" in store.skipped[0]
    assert glob.glob(os.path.join(workdir, checkpoints.DAMAGED, "10-*"))
  else:
    assert step == 10 and not store.skipped


def test_every_step_damaged_is_one_clear_error_and_nothing_is_moved(two_steps, tmp_path):
  config, source, _ = two_steps
  workdir = str(tmp_path / "run")
  shutil.copytree(source, workdir)
  for step in ("5", "10"):
    os.remove(os.path.join(workdir, "checkpoints", step, "state", "_METADATA"))
  with pytest.raises(checkpoints.CheckpointDamagedError, match="No checkpoint in .* can be read"):
    classifier.train_and_evaluate(config, workdir)
  assert [s.step for s in checkpoints.kept_steps(workdir)] == [5, 10]


def test_evaluate_a_damaged_checkpoint_is_one_message(glyph_files, two_steps, tmp_path):
  _, source, _ = two_steps
  workdir = str(tmp_path / "run")
  shutil.copytree(source, workdir)
  best = checkpoints.find_checkpoint(workdir, "best")[0]
  for path in glob.glob(os.path.join(best, "state", "ocdbt.process_0", "d", "*")):
    _damage(path, "scramble")
  code, out, err = finish(start(launch_args(workdir, glyph_files, 2, "--mode=evaluate")))
  assert code == 1
  assert "is damaged and was not used" in err and "--checkpoint=latest" in err
  assert "Traceback" not in err and len(err.split("error:")[1].strip().splitlines()) == 1, err


# -- a failing disk ---------------------------------------------------------------

@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   PermissionError(errno.EROFS, "Read-only file system")])
def test_a_failing_save_stops_training_and_keeps_the_earlier_checkpoints(
    two_steps, tmp_path, monkeypatch, error):
  config, source, truth = two_steps
  workdir = str(tmp_path / "run")
  shutil.copytree(source, workdir)

  def fail(*args, **kwargs):
    raise error
  monkeypatch.setattr(ocp.CheckpointManager, "save", fail)
  config = config.copy_and_resolve_references()
  config.num_epochs = 3
  with pytest.raises(checkpoints.CheckpointSaveError) as raised:
    classifier.train_and_evaluate(config, workdir)
  message = str(raised.value)
  assert "step 15" in message and error.strerror in message
  assert "intact (steps [5, 10])" in message and "run the same command" in message
  assert_same(params_of(workdir, 10), truth[10])


def test_a_file_size_limit_hit_while_saving_is_reported(glyph_files, tmp_path):
  """A real write failure: RLIMIT_FSIZE makes the kernel refuse (EFBIG) any
  write past 1 MB, as a full disk would; the model's state is ~6 MB."""
  workdir = str(tmp_path / "run")
  limit = ("import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
           "resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20)); sys.argv = sys.argv[1:];"
           "sys.path.insert(0, '.'); runpy.run_path('launch.py', run_name='__main__')")
  args = launch_args(workdir, glyph_files, 1)
  code, out, err = finish(start([sys.executable, "-c", limit, *args[1:]]))
  assert code == 1, err[-3000:]
  assert "Could not write the checkpoint of step 42" in err and "Traceback" not in err
  assert not checkpoints.kept_steps(workdir)


# -- a diverging run -------------------------------------------------------------

def test_a_diverging_run_is_flagged_and_stopped(glyph_files, tmp_path):
  config = small_config(dict(glyph_files), num_epochs=2, learning_rate=1e4)
  config.data.max_train_examples = 320
  with pytest.raises(training.TrainingDivergedError, match="diverged.*3.0x the untrained"):
    classifier.train_and_evaluate(config, str(tmp_path / "stop"))
  records = [json.loads(l) for l in open(tmp_path / "stop" / "metrics.jsonl")]
  assert records[-1]["diverged"] and records[-1]["train_loss"] > 3 * records[-1]["initial_loss"]
  assert not checkpoints.kept_steps(str(tmp_path / "stop"))

  config.stop_on_divergence = False
  config.num_epochs = 1
  classifier.train_and_evaluate(config, str(tmp_path / "warn"))
  records = [json.loads(l) for l in open(tmp_path / "warn" / "metrics.jsonl")]
  assert records[0]["diverged"] is True and records[-1]["train_diverged"] is True


def test_a_healthy_run_is_not_flagged(two_steps):
  _, workdir, _ = two_steps
  records = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert not any("diverged" in r or "train_diverged" in r for r in records)


# -- images with nothing to read, or stored oddly -------------------------------

def _word(dark_on_light=True) -> np.ndarray:
  image = np.full((64, 220), 235, np.uint8)
  import cv2
  cv2.putText(image, "mind", (10, 46), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.6, 25, 3)
  return image if dark_on_light else 255 - image


def test_readers_say_why_nothing_was_read_and_read_odd_encodings_alike(tmp_path):
  import cv2
  from PIL import Image

  model = tests_helpers.tiny_workdir(tmp_path)
  rng = np.random.default_rng(0)
  word = _word()
  files = {
      "word.png": word,
      "word16.png": word.astype(np.uint16) * 257,                  # 16 bit
      "word12.png": word.astype(np.uint16) * 16,                   # 12 bit in a 16-bit file
      "word_rgb.png": cv2.cvtColor(word, cv2.COLOR_GRAY2BGR),
      "word_light_on_dark.png": _word(dark_on_light=False),
      "blank.png": np.full((64, 220), 255, np.uint8),
      "grey.png": np.full((64, 220), 128, np.uint8),
      "noise8.png": rng.integers(0, 256, (64, 220)).astype(np.uint8),
      "noise16.png": rng.integers(0, 65536, (64, 220)).astype(np.uint16),
      "specks.png": np.where(rng.random((64, 220)) < 0.05, 0, 230).astype(np.uint8),
  }
  for name, image in files.items():
    cv2.imwrite(str(tmp_path / name), image)
  Image.fromarray(word).convert("P").save(tmp_path / "word_palette.png")
  names = sorted(files) + ["word_palette.png"]
  result = subprocess.run([sys.executable, "-m", "hwr_jax.read", *[str(tmp_path / n) for n in names],
                           f"--workdir={model}", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
  assert result.returncode == 1                                # some files had nothing to read
  out = {os.path.basename(json.loads(l)["file"]): json.loads(l) for l in result.stdout.splitlines()}
  assert set(out) == set(names)
  for name in ("blank.png", "grey.png"):
    assert "no ink found" in out[name]["error"], out[name]
  for name in ("noise8.png", "noise16.png"):
    assert "no handwriting found" in out[name]["error"], out[name]
  # Sparse specks average away at the working height: no ink at all.
  assert "no ink found" in out["specks.png"]["error"], out["specks.png"]
  reference = out["word.png"]["text"]
  assert reference and "error" not in out["word.png"]
  for name in names:
    if name.startswith("word"):
      assert out[name].get("text") == reference, (name, out[name])
