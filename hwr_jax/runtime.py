"""Process-level setup that must run before JAX computes anything."""

import os

# XLA:CPU's YNNPACK fusions make convolution weight gradients 2-9x slower on
# the CPUs we measured; turning them off is a CPU-only flag (ignored on GPU/TPU).
_CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)


def set_xla_flags() -> None:
  """Adds the project's XLA flags unless the user already set them."""
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in _CPU_FLAGS:
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags


def setup(distributed: bool = False) -> None:
  set_xla_flags()
  import jax
  if distributed:
    # Reads the coordinator address, process count and id from the cluster
    # environment (SLURM, TPU pods, ...) or JAX_COORDINATOR_ADDRESS etc.
    jax.distributed.initialize()
