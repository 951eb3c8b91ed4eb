"""The optimizer every trainer uses, and the train state it updates."""

import optax
from flax.training import train_state

TrainState = train_state.TrainState


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
  """Adam (AdamW with `weight_decay`) on a constant or warmup + cosine
  schedule; clipped by global norm when the config has `gradient_clip`."""
  total = max(1, config.num_epochs * steps_per_epoch)
  if config.schedule == "constant":
    lr = config.learning_rate
  elif config.schedule == "cosine":
    lr = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate,
        warmup_steps=min(total // 2, int(config.warmup_epochs * steps_per_epoch)),
        decay_steps=total, end_value=config.learning_rate * 0.01)
  else:
    raise ValueError(f"Unknown schedule {config.schedule!r} (constant, cosine).")
  tx = (optax.adamw(lr, weight_decay=config.weight_decay) if config.weight_decay
        else optax.adam(lr))
  if config.get("gradient_clip"):
    tx = optax.chain(optax.clip_by_global_norm(config.gradient_clip), tx)
  return tx
