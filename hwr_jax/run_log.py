"""What a run tells its user: lines on the console (main host only, tqdm-safe)
and `metrics.jsonl` in the workdir, one JSON record per epoch (and events such
as a divergence warning beside them). Training writes it; evaluation and
plots read it.
"""

import json
import os

import jax


def is_main() -> bool:
  return jax.process_index() == 0


def log(message: str) -> None:
  """Prints on the main host only, without breaking a progress bar."""
  if is_main():
    from tqdm import tqdm
    tqdm.write(message)


def append(path: str, record: dict) -> None:
  if is_main():
    with open(path, "a") as f:
      f.write(json.dumps(record) + "\n")


def epoch_records(path: str) -> list[dict]:
  """The per-epoch records of a metrics.jsonl (not the events logged beside
  them, such as a divergence warning)."""
  with open(path) as f:
    return [r for r in map(json.loads, filter(str.strip, f)) if "train_seconds" in r]


def truncate(path: str, last_epoch: int) -> None:
  """Drops records of epochs after `last_epoch` (logged, but not checkpointed,
  before a run was killed) so a resumed run does not log them twice."""
  if not is_main() or not os.path.exists(path):
    return
  with open(path) as f:
    lines = [l for l in f if l.strip() and json.loads(l)["epoch"] <= last_epoch]
  with open(path, "w") as f:
    f.writelines(lines)
