import json
import os
import shutil
import time

import jax
import numpy as np
import pytest

from configs import common
from hwr_jax import checkpoints, parallel, training
from hwr_jax.data import batching
from hwr_jax.evaluators import classification
from hwr_jax.training import classifier, trainer


def small_config(paths=None, **overrides):
  config = common.get_base_config()
  config.data.source = "idx"
  config.data.label_space = "byclass"
  config.data.validation_fraction = 0.2
  config.batch_size = 32
  config.eval_batch_size = 64
  config.num_epochs = 2
  config.log_every_steps = 5
  for key, value in (paths or {}).items():
    config.data[key] = value
  for key, value in overrides.items():
    config[key] = value
  return config


def test_train_step_compiles_once_and_learns(idx_dataset):
  config = small_config(idx_dataset(num_train=320), learning_rate=3e-3)
  config.augment.enabled = False
  task, mesh = classifier.ClassifierTask(config), parallel.make_mesh()
  step = jax.jit(task.train_step, donate_argnums=0)
  state = jax.device_put(task.init_state(), parallel.replicated(mesh))
  losses = []
  for epoch in range(6):
    for batch in batching.prefetch(task.train_batches(epoch),
                                   lambda b: parallel.host_to_global(b, mesh)):
      state, m = step(state, batch)
      losses.append(float(m["loss"]))
  assert step._cache_size() == 1        # no recompilation
  assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])


def test_resume_replays_exactly(idx_dataset, tmp_path, monkeypatch):
  """Train 2 epochs straight vs killed in epoch 2 and resumed: identical weights."""
  paths = idx_dataset(num_train=200)
  config = small_config(paths)
  classifier.train_and_evaluate(config, str(tmp_path / "straight"))

  real_epoch = trainer.train_epoch
  def killed_in_epoch_2(task, step_fn, state, epoch, mesh, run):
    if epoch == 1:
      raise KeyboardInterrupt  # as if the process were killed mid-epoch
    return real_epoch(task, step_fn, state, epoch, mesh, run)
  monkeypatch.setattr(trainer, "train_epoch", killed_in_epoch_2)
  with pytest.raises(KeyboardInterrupt):
    classifier.train_and_evaluate(config, str(tmp_path / "resumed"))
  monkeypatch.setattr(trainer, "train_epoch", real_epoch)
  classifier.train_and_evaluate(config, str(tmp_path / "resumed"))

  def final_params(workdir):
    store = checkpoints.CheckpointStore(workdir, config.to_dict())
    state, meta = store.restore(classifier.create_train_state(config, 62, 5))
    store.close()
    assert meta["epoch"] == 2
    return state.params
  jax.tree.map(np.testing.assert_array_equal, final_params(str(tmp_path / "straight")),
               final_params(str(tmp_path / "resumed")))
  lines = open(tmp_path / "resumed" / "metrics.jsonl").read().splitlines()
  assert len(lines) == 2                                  # each epoch logged once


def test_checkpoint_of_another_config_is_refused(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=100)
  classifier.train_and_evaluate(small_config(paths, num_epochs=1), str(tmp_path))
  with pytest.raises(checkpoints.CheckpointMismatchError, match="learning_rate: 0.001 -> 0.01"):
    classifier.train_and_evaluate(small_config(paths, learning_rate=0.01), str(tmp_path))
  other_model = small_config(paths)
  other_model.model.dense_features = 64
  with pytest.raises(checkpoints.CheckpointMismatchError, match="model.dense_features"):
    classification.evaluate_checkpoint(other_model, str(tmp_path))
  # Resuming with a setting that changes a shape names the setting (it is not damage):
  # the config is compared before any array is read.
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match="model.dense_features: 128 -> 64") as refused:
    classifier.train_and_evaluate(other_model, str(tmp_path))
  assert "damaged" not in str(refused.value) and len(checkpoints.kept_steps(str(tmp_path))) == 1


def test_a_run_resumes_when_only_its_data_folder_moved(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=100)
  workdir = str(tmp_path / "run")
  classifier.train_and_evaluate(small_config(paths, num_epochs=1), workdir)
  moved = tmp_path / "moved"
  moved.mkdir()
  for key, path in paths.items():
    shutil.copy(path, moved)
    paths[key] = str(moved / os.path.basename(path))
  classifier.train_and_evaluate(small_config(paths, num_epochs=2), workdir)
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["epoch"] for r in records] == [1, 2]


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=100)
  with pytest.raises(training.TrainingDivergedError, match="last checkpoint is intact"):
    classifier.train_and_evaluate(small_config(paths, learning_rate=float("inf")), str(tmp_path))
  assert not checkpoints.kept_steps(str(tmp_path))


def test_a_few_hundred_steps_on_real_data_beat_chance(real_classifier):
  _, _, results = real_classifier
  # Chance is 1/62; the most frequent class is < 6 %. A working pipeline is far above.
  assert results["accuracy"] > 0.6, results
  assert results["top5_accuracy"] > 0.85, results


def test_input_wait_share_is_measured(idx_dataset, monkeypatch):
  """A starved step shows up as a large share of time waiting for input; a fed one does not."""
  config = small_config(idx_dataset(num_train=320))
  task, mesh = classifier.ClassifierTask(config), parallel.make_mesh()
  step = jax.jit(task.train_step, donate_argnums=0)
  state = jax.device_put(task.init_state(), parallel.replicated(mesh))
  state, _ = trainer.train_epoch(task, step, state, 0, mesh)  # compiles

  real_train_batches = batching.train_batches
  def slow_batches(*args, **kwargs):
    for batch in real_train_batches(*args, **kwargs):
      time.sleep(0.25)
      yield batch
  monkeypatch.setattr(batching, "train_batches", slow_batches)
  state, starved = trainer.train_epoch(task, step, state, 1, mesh)
  assert starved["input_wait_fraction"] > 0.6
  monkeypatch.setattr(batching, "train_batches", real_train_batches)
  state, fed = trainer.train_epoch(task, step, state, 3, mesh)
  assert fed["input_wait_fraction"] < starved["input_wait_fraction"] / 2
