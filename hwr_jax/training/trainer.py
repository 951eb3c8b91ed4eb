"""The one training loop. A task (`classifier.py`, `words.py`, and the readers
to come) supplies what differs: its initial state, its pure train step, its
batches, its validation and its final evaluation. This runs it on every
device JAX sees: data parallel over a mesh (and hosts), a jit-compiled step,
one checkpoint per epoch with resume (`run.py`), metrics.jsonl, a progress bar.

A task has:
  config, charset, steps_per_epoch
  best_key, higher_is_better   the validation score that picks the best checkpoint
  what                         what the loss is called in messages ("loss", "CTC loss")
  init_state() -> TrainState
  train_step(state, batch) -> (state, metrics)    pure: jitted here, donating the state
  train_batches(epoch, shard_index, num_shards, start) -> this host's batches
  validate(state, mesh, train_metrics) -> (metrics.jsonl record, score, summary line)
  write_files(workdir)         what readers need beside the checkpoints (main host)
  describe() -> str            one line about the data
  evaluate(workdir) -> dict    the best checkpoint, after training (`hwr_jax/evaluators/`)
"""

import os

import jax

from hwr_jax import parallel
from hwr_jax.data import batching
from hwr_jax.evaluators import plots
from hwr_jax.run_log import is_main, log
from hwr_jax.training.loop import run_epoch
from hwr_jax.training.run import Run


def train_epoch(task, step_fn, state, epoch: int, mesh, run: Run | None = None):
  """One epoch of `step_fn` over the task's batches (from `run.first_step`
  on), prefetched and sharded over `mesh`. Returns (state, epoch metrics)."""
  config = task.config
  batches = batching.prefetch(
      task.train_batches(epoch, jax.process_index(), jax.process_count(),
                         start=run.first_step(epoch) if run else 0),
      lambda b: parallel.host_to_global(b, mesh))
  return run_epoch(step_fn, state, batches, task.steps_per_epoch, epoch,
                   num_epochs=config.num_epochs, batch_size=config.batch_size,
                   log_every=config.log_every_steps, what=task.what, run=run)


def train_and_evaluate(task, workdir: str) -> dict:
  """Trains `task` (resuming from `workdir` when it holds a checkpoint), then
  evaluates its best checkpoint; returns the evaluation's results."""
  config = task.config
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, "eval_batch_size")
  step_fn = jax.jit(task.train_step, donate_argnums=0)
  run = Run(config, workdir, task.init_state(), task.charset, best_key=task.best_key,
            higher_is_better=task.higher_is_better)
  state = jax.device_put(run.state, parallel.replicated(mesh))
  if is_main():
    task.write_files(workdir)
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    log(f"{n_params:,} parameters; {task.describe()}; {task.steps_per_epoch} steps per "
        f"epoch; {mesh.size} device(s) ({jax.default_backend()}), {jax.process_count()} "
        "host(s).")
  try:
    for epoch in run.epochs():
      state, train = train_epoch(task, step_fn, state, epoch, mesh, run)
      record, score, summary = task.validate(state, mesh, train)
      is_best = run.end_epoch(state, epoch, record, score, train["epoch_seconds"])
      log(f"epoch {epoch + 1}/{config.num_epochs}  {summary}{'  (best)' if is_best else ''}")
  finally:
    run.close()
  if is_main() and os.path.exists(run.metrics_path):
    plots.training_curves(run.metrics_path, os.path.join(workdir, "training_curves.png"))
  return task.evaluate(workdir)
