"""hwr-jax: handwriting recognition in JAX/Flax.

`hwr_jax.load_reader(workdir)` reads word images with a trained model (see
`hwr_jax.readers`); importing this package alone loads no JAX.
"""

__version__ = "0.1.0"


def load_reader(workdir: str, reader: str | None = None, checkpoint: str = "best", **options):
  """See `hwr_jax.readers.load_reader`."""
  from hwr_jax.readers import load_reader as load
  return load(workdir, reader, checkpoint, **options)
