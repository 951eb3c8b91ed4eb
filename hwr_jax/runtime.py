"""Process-level setup that must run before JAX computes anything."""

import os

# XLA:CPU's YNNPACK fusions make convolution weight gradients 2-9x slower on
# the CPUs we measured; turning them off is a CPU-only flag (ignored on GPU/TPU).
_CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)


class DistributedSetupError(RuntimeError):
  """The processes of a multi-host run could not find each other."""


def set_xla_flags() -> None:
  """Adds the project's XLA flags unless the user already set them."""
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in _CPU_FLAGS:
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags


def distributed_settings(config) -> dict:
  """jax.distributed.initialize's arguments from the config, else from
  JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID; what is
  still unset JAX finds from the cluster (SLURM, Open MPI, TPU pods, ...)."""
  def number(key, env, unset):
    value = config.get(key, unset)
    if value == unset and os.environ.get(env, "").strip():
      try:
        value = int(os.environ[env])
      except ValueError:
        raise DistributedSetupError(f"{env}={os.environ[env]!r} is not a number.") from None
    return None if value == unset else value
  return {"coordinator_address": (config.get("coordinator_address") or
                                  os.environ.get("JAX_COORDINATOR_ADDRESS") or None),
          "num_processes": number("num_processes", "JAX_NUM_PROCESSES", 0),
          "process_id": number("process_id", "JAX_PROCESS_ID", -1)}


def setup(config) -> None:
  """XLA flags; with `config.distributed`, joins the other processes (and
  uses gloo for CPU collectives unless JAX_CPU_COLLECTIVES_IMPLEMENTATION
  says otherwise)."""
  set_xla_flags()
  import jax
  if not config.get("distributed"):
    return
  settings = distributed_settings(config)
  if "JAX_CPU_COLLECTIVES_IMPLEMENTATION" not in os.environ:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    jax.distributed.initialize(**settings)
  except (ValueError, TypeError, RuntimeError) as e:
    given = ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None) or "nothing"
    raise DistributedSetupError(
        f"--config.distributed=True, but the processes could not be set up: {e}\n"
        f"Given: {given}. Outside SLURM, Open MPI or a TPU pod, give every process the "
        "coordinator's host:port (--config.coordinator_address or JAX_COORDINATOR_ADDRESS), "
        "the number of processes (--config.num_processes or JAX_NUM_PROCESSES) and its own "
        "id 0..N-1 (--config.process_id or JAX_PROCESS_ID). See docs/training.md, 'Many hosts'."
    ) from None
