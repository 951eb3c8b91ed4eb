"""Data parallelism over every device JAX sees, on one host or many.

One mesh axis, 'data': the batch is split across devices and the train state
is replicated. The same code runs on 1 CPU, 8 GPUs or several hosts (after
`jax.distributed.initialize()`): each host feeds its own slice of the batch.
"""

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def make_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), ("data",))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch_size(batch_size: int, mesh: Mesh, what: str = "batch_size") -> None:
  if batch_size % mesh.size or batch_size % jax.process_count():
    raise ValueError(f"{what}={batch_size} must be divisible by the number of "
                     f"devices ({mesh.size}) and hosts ({jax.process_count()}).")


def host_to_global(batch: dict, mesh: Mesh) -> dict:
  """This host's slice of a batch -> one global array sharded over 'data'."""
  sharding = batch_sharding(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def global_to_host(tree):
  """Gathers (possibly cross-host sharded) arrays into full numpy arrays."""
  if jax.process_count() > 1:
    return multihost_utils.process_allgather(tree, tiled=True)
  return jax.device_get(tree)
