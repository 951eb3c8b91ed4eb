"""The command line end to end, in subprocesses (as a user runs it)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def launch(*args, devices=1, env_extra=None):
  env = dict(os.environ)
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  env.update(env_extra or {})
  return subprocess.run([sys.executable, "launch.py", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


def data_flags(paths):
  return [f"--config.data.{k}={v}" for k, v in paths.items()]


def common_flags(workdir, paths):
  return ["--config=configs/dev_byclass.py", f"--workdir={workdir}",
          "--config.num_epochs=1", "--config.batch_size=64",
          "--config.eval_batch_size=64", *data_flags(paths)]


def test_train_then_evaluate(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=400, num_test=100)
  workdir = tmp_path / "run"
  result = launch(*common_flags(workdir, paths))
  assert result.returncode == 0, result.stderr[-3000:]
  for name in ("metrics.jsonl", "config.json", "training_curves.png", "eval_test.json",
               "confusion_matrix_test.png", "classification_report_test.txt"):
    assert (workdir / name).exists(), name
  assert "macro ROC-AUC" in result.stdout

  result = launch(*common_flags(workdir, paths), "--mode=evaluate", "--checkpoint=latest")
  assert result.returncode == 0, result.stderr[-3000:]
  metrics = json.loads((workdir / "eval_test.json").read_text())["metrics"]
  assert metrics["num_examples"] == 100 and metrics["checkpoint_epoch"] == 1
  assert set(json.loads((workdir / "eval_test.json").read_text())["per_class"]) >= set("0aZ")


def test_data_parallel_over_4_devices_matches_1_device(idx_dataset, tmp_path):
  paths = idx_dataset(num_train=400, num_test=100)
  runs = {}
  for devices in (1, 4):
    workdir = tmp_path / f"d{devices}"
    result = launch(*common_flags(workdir, paths), devices=devices)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{devices} device(s)" in result.stdout + result.stderr
    runs[devices] = json.loads((workdir / "metrics.jsonl").read_text().splitlines()[0])
  # Same global batches, same math: only the reduction order differs.
  assert runs[4]["train_loss"] == pytest.approx(runs[1]["train_loss"], rel=1e-3)
  assert runs[4]["val_loss"] == pytest.approx(runs[1]["val_loss"], rel=1e-3)


def test_missing_data_gives_instructions_not_a_traceback(tmp_path):
  result = launch("--config=configs/balanced.py", f"--workdir={tmp_path}",
                  f"--config.data.nist_dir={tmp_path}/nothing-here")
  assert result.returncode == 1
  assert "gzip.zip" in result.stderr and "Traceback" not in result.stderr


def test_evaluate_without_checkpoint_explains(idx_dataset, tmp_path):
  result = launch(*common_flags(tmp_path / "empty", idx_dataset()), "--mode=evaluate")
  assert result.returncode == 1
  assert "No best checkpoint" in result.stderr and "Train first" in result.stderr
