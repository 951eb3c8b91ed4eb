"""One checkpoint step folder, read with orbax: its meta (a small JSON item:
the config that wrote it, epoch, scores, the sha256 of its weights), readable
without its arrays, and its arrays, checked against that sha256. A damaged
step (orbax cannot read it: its CRC checks, a truncated or missing file; or
its weights do not match the sha256 saved with them) raises."""

import hashlib

import jax
import numpy as np
import orbax.checkpoint as ocp

from hwr_jax.checkpoints.errors import CheckpointDamagedError
from hwr_jax.checkpoints.quiet import quiet


def tree_sha256(tree) -> str:
  """sha256 of a tree of arrays (keys in order, each leaf's dtype, shape and
  bytes). Reads each leaf's local copy, so replicated multi-host arrays work."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if isinstance(leaf, jax.Array):
      leaf = leaf.addressable_data(0)
    leaf = np.ascontiguousarray(leaf)
    digest.update(f"{jax.tree_util.keystr(path)}:{leaf.dtype}:{leaf.shape};".encode())
    digest.update(leaf.tobytes())
  return digest.hexdigest()


def state_tree(state) -> dict:
  """What a checkpoint stores of a train state."""
  return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


def _checkpointer() -> ocp.Checkpointer:
  return ocp.Checkpointer(ocp.CompositeCheckpointHandler())


def read_meta(path: str) -> dict:
  """The meta of one step folder (no arrays are read)."""
  with quiet():
    return _checkpointer().restore(
        path, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]


def read_arrays(path: str, meta: dict, state=None) -> dict:
  """The arrays of one step folder, checked against the sha256 in `meta`.
  `state`: restore the whole train state like it (training), replicated over
  every device of every process; None: the parameters only, as numpy arrays
  in the shapes the checkpoint records (prediction: nothing traced or
  compiled, the optimizer state not read)."""
  from etils import epath
  with quiet():
    if state is None:
      tree = ocp.PyTreeCheckpointHandler().metadata(epath.Path(path) / "state").tree
      if "params" not in tree:
        raise CheckpointDamagedError(f"{path} holds no model parameters.")
      abstract = {"params": jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype),
                                         tree["params"])}
      as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), abstract)
      args = ocp.args.PyTreeRestore(item=abstract, restore_args=as_numpy, partial_restore=True)
    else:
      # (a host-local array cannot be moved into the training layout)
      from hwr_jax import parallel
      replicated = parallel.replicated(parallel.make_mesh())
      abstract = jax.tree.map(
          lambda x: jax.ShapeDtypeStruct(np.shape(x), np.result_type(x), sharding=replicated),
          state_tree(state))
      args = ocp.args.StandardRestore(abstract)
    restored = _checkpointer().restore(path, args=ocp.args.Composite(state=args))["state"]
  expected = (meta.get("sha256") or {}).get("params")
  if expected and tree_sha256(restored["params"]) != expected:
    raise CheckpointDamagedError("its weights do not match the sha256 saved with them")
  return restored
