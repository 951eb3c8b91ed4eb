"""A trained model as a folder of plain files, for shipping (the pretrained
models in `hwr_jax/pretrained/`): no orbax, no pickle, no optimizer state.

  config.json        the config that trained it (as a workdir's)
  model.safetensors  the parameters (flattened: 'HTRBackbone_0/Conv_0/kernel'),
                     fp32 or fp16, with their charset, step and epoch as metadata
  vocabulary.tsv     the training words and counts (lexicon), when the run had them
  lm_lines.txt       training lines for the language models, when it had them
  class_counts.json  a classifier's training class counts (its priors), when it had them
  SHA256SUMS         sha256 of every file above, checked when the model loads

The folder is read like a workdir (`inference.load_model(folder)`), so every
reader takes it where it takes a workdir.
"""

import hashlib
import json
import os
import shutil

import numpy as np

from hwr_jax.checkpoints.errors import CheckpointDamagedError
from hwr_jax.checkpoints.workdir import flatten

WEIGHTS = "model.safetensors"
SUMS = "SHA256SUMS"
RESOURCES = ("config.json", "vocabulary.tsv", "lm_lines.txt", "class_counts.json")
FORMAT = 1


def is_exported(folder: str) -> bool:
  return os.path.isfile(os.path.join(folder, WEIGHTS))


def unflatten(flat: dict[str, np.ndarray]) -> dict:
  tree: dict = {}
  for name, value in flat.items():
    node = tree
    *parents, leaf = name.split("/")
    for part in parents:
      node = node.setdefault(part, {})
    node[leaf] = value
  return tree


def without_paths(config):
  """The config with every absolute path (data folders of the machine that
  trained it) emptied."""
  if isinstance(config, dict):
    return {k: without_paths(v) for k, v in config.items()}
  if isinstance(config, str) and os.path.isabs(config):
    return ""
  return config


def sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def write_exported(folder: str, workdir: str, params: dict, meta: dict,
                   dtype: str = "float32") -> list[str]:
  """Writes `params` (and the workdir's config and language resources) as an
  exported model folder; returns the files written."""
  from safetensors.numpy import save_file
  os.makedirs(folder, exist_ok=True)
  for name in (WEIGHTS, SUMS) + RESOURCES:   # a model published before: none of its files stay
    if os.path.exists(os.path.join(folder, name)):
      os.remove(os.path.join(folder, name))
  flat = {k: np.asarray(v).astype(dtype) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
          for k, v in flatten(params, "/").items()}
  info = {"format": str(FORMAT), "charset": meta["charset"], "step": str(meta.get("step", 0)),
          "epoch": str(meta.get("epoch", 0)), "dtype": dtype}
  save_file(flat, os.path.join(folder, WEIGHTS), metadata=info)
  files = [WEIGHTS]
  for name in RESOURCES:
    if os.path.exists(os.path.join(workdir, name)):
      shutil.copyfile(os.path.join(workdir, name), os.path.join(folder, name))
      files.append(name)
  with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
  with open(os.path.join(folder, "config.json"), "w") as f:   # the trainer's own folders: out
    json.dump(without_paths(config), f, indent=2, sort_keys=True)
  with open(os.path.join(folder, SUMS), "w") as f:
    for name in sorted(files):
      f.write(f"{sha256(os.path.join(folder, name))}  {name}\n")
  return files


def verify(folder: str) -> None:
  """CheckpointDamagedError naming the first file whose sha256 differs from
  SHA256SUMS (or that is missing)."""
  sums = os.path.join(folder, SUMS)
  if not os.path.exists(sums):
    raise CheckpointDamagedError(f"{folder} has no {SUMS}: not a complete exported model.")
  with open(sums) as f:
    listed = [line.split() for line in f if line.strip()]
  if any(len(entry) != 2 for entry in listed) or \
      not {WEIGHTS, "config.json"} <= {name for _, name in listed}:
    raise CheckpointDamagedError(f"{sums} is damaged (it must list {WEIGHTS} and config.json "
                                 "with their sha256). Reinstall hwr-jax or export again.")
  for expected, name in listed:
    path = os.path.join(folder, name)
    if not os.path.exists(path):
      raise CheckpointDamagedError(f"{path} is missing (listed in {sums}).")
    if sha256(path) != expected:
      raise CheckpointDamagedError(
          f"{path} is damaged: its sha256 is not the one in {sums}. Reinstall hwr-jax (or "
          "export the model again) to get an intact copy.")


def read_exported(folder: str) -> tuple[dict, dict]:
  """(params as float32 numpy arrays, meta with 'config', 'charset', 'step',
  'epoch') of an exported model folder, its files' sha256 checked first."""
  from safetensors import SafetensorError
  from safetensors.numpy import load_file
  verify(folder)
  path = os.path.join(folder, WEIGHTS)
  try:
    flat = load_file(path)
    from safetensors import safe_open
    with safe_open(path, "np") as f:
      info = f.metadata() or {}
  except (SafetensorError, OSError, ValueError) as e:
    raise CheckpointDamagedError(f"{path} cannot be read ({e}).") from None
  with open(os.path.join(folder, "config.json")) as f:
    config = json.load(f)
  params = unflatten({k: v.astype(np.float32) if v.dtype.kind == "f" else v
                      for k, v in flat.items()})
  return params, {"config": config, "charset": info.get("charset", ""),
                  "step": int(info.get("step", 0)), "epoch": int(info.get("epoch", 0))}
