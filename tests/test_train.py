import time

import jax
import numpy as np
import pytest

from configs import common
from hwr_jax import checkpoints, evaluate, parallel, train
from hwr_jax.data import sources


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
  splits = sources.load(config.data)
  trainer = train.Trainer(config, parallel.make_mesh())
  state = trainer.put_state(train.create_train_state(config, 62, steps_per_epoch=8))
  losses = []
  for epoch in range(6):
    for batch in trainer.batches(train.batching.train_batches(*splits.train, 32, 0, epoch)):
      state, m = trainer.train_step(state, batch)
      losses.append(float(m["loss"]))
  assert trainer.train_step._cache_size() == 1        # no recompilation
  assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4])


def test_resume_replays_exactly(idx_dataset, tmp_path, monkeypatch):
  """Train 2 epochs straight vs killed in epoch 2 and resumed: identical weights."""
  paths = idx_dataset(num_train=200)
  config = small_config(paths)
  train.train_and_evaluate(config, str(tmp_path / "straight"))

  real_epoch = train._train_one_epoch
  def killed_in_epoch_2(trainer, state, splits, epoch, steps, run):
    if epoch == 1:
      raise KeyboardInterrupt  # as if the process were killed mid-epoch
    return real_epoch(trainer, state, splits, epoch, steps, run)
  monkeypatch.setattr(train, "_train_one_epoch", killed_in_epoch_2)
  with pytest.raises(KeyboardInterrupt):
    train.train_and_evaluate(config, str(tmp_path / "resumed"))
  monkeypatch.setattr(train, "_train_one_epoch", real_epoch)
  train.train_and_evaluate(config, str(tmp_path / "resumed"))

  def final_params(workdir):
    store = checkpoints.CheckpointStore(workdir, config.to_dict())
    state, meta = store.restore(train.create_train_state(config, 62, 5))
    store.close()
    assert meta["epoch"] == 2
    return state.params
  jax.tree.map(np.testing.assert_array_equal, final_params(str(tmp_path / "straight")),
               final_params(str(tmp_path / "resumed")))
  lines = open(tmp_path / "resumed" / "metrics.jsonl").read().splitlines()
  assert len(lines) == 2                                  # each epoch logged once


def test_checkpoint_of_another_config_is_refused(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=100)
  train.train_and_evaluate(small_config(paths, num_epochs=1), str(tmp_path))
  with pytest.raises(checkpoints.CheckpointMismatchError, match="learning_rate: 0.001 -> 0.01"):
    train.train_and_evaluate(small_config(paths, learning_rate=0.01), str(tmp_path))
  other_model = small_config(paths)
  other_model.model.dense_features = 64
  with pytest.raises(checkpoints.CheckpointMismatchError, match="model.dense_features"):
    evaluate.evaluate_checkpoint(other_model, str(tmp_path))


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=100)
  with pytest.raises(train.TrainingDivergedError, match="last checkpoint is intact"):
    train.train_and_evaluate(small_config(paths, learning_rate=float("inf")), str(tmp_path))
  assert not checkpoints.kept_steps(str(tmp_path))


def test_a_few_hundred_steps_on_real_data_beat_chance(real_classifier):
  _, _, results = real_classifier
  # Chance is 1/62; the most frequent class is < 6 %. A working pipeline is far above.
  assert results["accuracy"] > 0.6, results
  assert results["top5_accuracy"] > 0.85, results


def test_input_wait_share_is_measured(idx_dataset, monkeypatch):
  """A starved step shows up as a large share of time waiting for input; a fed one does not."""
  config = small_config(idx_dataset(num_train=320))
  splits = sources.load(config.data)
  trainer = train.Trainer(config, parallel.make_mesh())
  state = trainer.put_state(train.create_train_state(config, 62, steps_per_epoch=8))
  state, _ = train._train_one_epoch(trainer, state, splits, 0, 8)  # compiles

  real_train_batches = train.batching.train_batches
  def slow_batches(*args, **kwargs):
    for batch in real_train_batches(*args, **kwargs):
      time.sleep(0.25)
      yield batch
  monkeypatch.setattr(train.batching, "train_batches", slow_batches)
  state, starved = train._train_one_epoch(trainer, state, splits, 1, 8)
  assert starved["input_wait_fraction"] > 0.6
  monkeypatch.setattr(train.batching, "train_batches", real_train_batches)
  state, fed = train._train_one_epoch(trainer, state, splits, 3, 8)
  assert fed["input_wait_fraction"] < starved["input_wait_fraction"] / 2
