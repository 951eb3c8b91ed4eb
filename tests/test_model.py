import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import common
from hwr_jax.preprocess.augment import random_affine
from hwr_jax.models import create_model
from hwr_jax.models.cnn import CharacterCNN
from hwr_jax.models.layers import max_pool_2x2


@pytest.mark.parametrize("num_classes", [47, 62])
def test_output_shape_and_size(num_classes):
  model = create_model(common.get_base_config(), num_classes)
  params = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  logits = model.apply({"params": params}, jnp.zeros((5, 28, 28, 1)))
  assert logits.shape == (5, num_classes)
  n = sum(p.size for p in jax.tree.leaves(params))
  assert 450_000 < n < 500_000        # the published baselines' size


def test_dropout_only_in_training():
  model = CharacterCNN(10)
  x = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1))
  params = model.init(jax.random.key(0), x)["params"]
  eval_a = model.apply({"params": params}, x)
  np.testing.assert_array_equal(eval_a, model.apply({"params": params}, x))
  train_a = model.apply({"params": params}, x, train=True, rngs={"dropout": jax.random.key(2)})
  assert not np.allclose(eval_a, train_a)


def test_max_pool_matches_flax_values_and_gradients():
  x = jax.random.normal(jax.random.key(0), (2, 8, 6, 3))
  reference = lambda v: nn.max_pool(v, (2, 2), strides=(2, 2))
  np.testing.assert_allclose(max_pool_2x2(x), reference(x))
  weights = jax.random.normal(jax.random.key(1), (2, 4, 3, 3))
  grad = jax.grad(lambda v: (max_pool_2x2(v) * weights).sum())(x)
  grad_ref = jax.grad(lambda v: (reference(v) * weights).sum())(x)
  np.testing.assert_allclose(grad, grad_ref)


def test_affine_augmentation():
  images = jnp.zeros((3, 28, 28, 1)).at[:, 10:18, 12:16, 0].set(1.0)
  same = random_affine(jax.random.key(0), images, 0.0, 0.0, 0.0, 0.0)
  np.testing.assert_allclose(same, images, atol=1e-6)
  warped = random_affine(jax.random.key(0), images, 10.0, 0.2, 0.1, 2.0)
  assert warped.shape == images.shape
  assert float(warped.min()) >= 0.0 and float(warped.max()) <= 1.0 + 1e-6
  assert not np.allclose(warped, images)
  # Small warps keep the ink: total mass within 25 %.
  np.testing.assert_allclose(warped.sum((1, 2, 3)), images.sum((1, 2, 3)), rtol=0.25)
