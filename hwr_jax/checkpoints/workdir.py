"""What a workdir holds, read from its folders without loading any arrays:
the run's config (`config.json`), the checkpoint steps it keeps and their
validation scores, and which settings of two configs differ.

workdir/config.json                the config of the run
workdir/checkpoints/<step>/        kept: the newest 2 and the best by score
workdir/checkpoints-damaged/<step> steps found damaged on resume, set aside

Workdirs of earlier versions (`checkpoints/latest/<step>`,
`checkpoints/best/<step>`) are read until the first new save.
"""

import dataclasses
import json
import os

from hwr_jax.checkpoints.errors import ModelLoadError

# Config keys that may change between a run and its resumption: how long and
# how verbosely to train, where the data is (a moved data folder is not
# another experiment), how many processes.
RESUMABLE_CHANGES = ("num_epochs", "log_every_steps", "eval_batch_size",
                     "data.nist_dir", "data.mnist_dir", "data.download",
                     "data.tfds_data_dir", "data.train_images",
                     "data.train_labels", "data.test_images", "data.test_labels",
                     "words.path", "words.ondb_path", "ink.path", "distributed", "coordinator_address", "num_processes",
                     "process_id", "stop_on_divergence")
KINDS = ("best", "latest")
# Keys that decide whether a checkpoint's weights fit a model at all.
MODEL_KEYS = ("model", "data.label_space")
DAMAGED = "checkpoints-damaged"


def flatten(d: dict, separator: str = ".", prefix: str = "") -> dict:
  """A nested dict as one level: {'a': {'b': 1}} -> {'a.b': 1}."""
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(flatten(v, separator, key + separator))
    else:
      out[key] = v
  return out


def config_differences(saved: dict, current: dict, keys=None) -> list[str]:
  """Lines `key: saved -> current` for keys that differ (limited to `keys`
  prefixes; without `keys`, every key but RESUMABLE_CHANGES). Settings the
  saved config lacks are not differences: they were added to the code later,
  with defaults that keep the earlier behaviour."""
  a, b = flatten(saved), flatten(current)
  diffs = []
  for key in sorted(a):
    if keys is not None and not any(key == k or key.startswith(k + ".") for k in keys):
      continue
    if keys is None and any(key == k or key.startswith(k + ".") for k in RESUMABLE_CHANGES):
      continue
    if json.dumps(a.get(key)) != json.dumps(b.get(key)):
      diffs.append(f"  {key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
  return diffs


# -- the steps a workdir keeps (a folder listing: creates nothing) ------------

@dataclasses.dataclass
class Step:
  step: int
  path: str
  score: float | None   # validation score, larger = better; None: not scored


def _read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _scored(path: str) -> float | None:
  metrics = _read_json(os.path.join(path, "metrics", "metrics"))
  if not isinstance(metrics, dict) or not isinstance(metrics.get("score"), (int, float)):
    return None
  return metrics["score"] if metrics.get("higher_is_better", True) else -metrics["score"]


def kept_steps(workdir: str) -> list[Step]:
  """The finished checkpoint steps of a workdir, oldest first. Orbax writes a
  step into a temporary folder and renames it when complete, so a half-written
  step (its name has a suffix) is never listed."""
  root = os.path.join(os.path.abspath(workdir), "checkpoints")
  names = os.listdir(root) if os.path.isdir(root) else []
  steps = [Step(int(n), os.path.join(root, n), _scored(os.path.join(root, n)))
           for n in names if n.isdigit()]
  if not steps:   # the earlier layout: latest/<step> and best/<step>
    found: dict[int, Step] = {}
    for kind in ("latest", "best"):
      folder = os.path.join(root, kind)
      for n in os.listdir(folder) if os.path.isdir(folder) else []:
        if n.isdigit():
          step = found.setdefault(int(n), Step(int(n), os.path.join(folder, n), None))
          if kind == "best":
            step.score = 0.0   # (the only scored step of that layout)
    steps = list(found.values())
  return sorted(steps, key=lambda s: s.step)


def best_of(steps: list[Step]) -> Step | None:
  scored = [s for s in steps if s.score is not None]
  return max(scored, key=lambda s: (s.score, s.step)) if scored else None


def find_checkpoint(workdir: str, checkpoint: str = "best") -> tuple[str, int]:
  """(folder, step) of the workdir's 'best' or 'latest' checkpoint, or of
  the kept checkpoint of step `checkpoint`."""
  root = os.path.join(os.path.abspath(workdir), "checkpoints")
  if checkpoint not in KINDS and not str(checkpoint).isdigit():
    raise ModelLoadError(f"--checkpoint must be 'best', 'latest' or a step number, "
                         f"not {checkpoint!r}.")
  steps = kept_steps(workdir)
  if not steps:
    raise ModelLoadError(f"No {checkpoint} checkpoint in {root}. Train first: "
                         f"python launch.py --config=... --workdir={workdir}")
  if checkpoint == "latest":
    found = steps[-1]
  elif checkpoint == "best":
    found = best_of(steps)
    if found is None:
      raise ModelLoadError(f"No best checkpoint in {root}: no kept step has a readable validation "
                           f"score yet (kept: {[s.step for s in steps]}). Use "
                           "--checkpoint=latest, or train on.")
  else:
    found = next((s for s in steps if s.step == int(checkpoint)), None)
    if found is None:
      raise ModelLoadError(f"No checkpoint of step {checkpoint} in {root}; kept steps: "
                           f"{[s.step for s in steps]}.")
  return found.path, found.step


# -- the run's config --------------------------------------------------------

def save_workdir_config(workdir: str, config) -> None:
  """Writes the run's config to `workdir/config.json` (main host only)."""
  import jax
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json(indent=2))


def load_workdir_config(workdir: str):
  """The ConfigDict a run wrote to `workdir/config.json`, or None if absent."""
  import ml_collections
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))
