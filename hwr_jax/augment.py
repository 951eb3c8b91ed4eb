"""On-device data augmentation that respects handwriting.

Small random affine warps (rotation, shear, anisotropic scale, translation):
the variation between writers. No flips and no large rotations, which would
turn one character into another (6/9, b/d/p/q, n/u, M/W).
"""

import jax
import jax.numpy as jnp


def random_affine(key, images: jnp.ndarray, max_rotation_deg: float,
                  max_shear: float, max_scale: float,
                  max_translate: float) -> jnp.ndarray:
  """Warps each (H, W, 1) image of a batch by its own random affine map.

  Bilinear resampling with zero (background) fill. Runs inside the jitted
  train step, so it costs no host time and no transfer.
  """
  b, h, w, _ = images.shape
  k_rot, k_shear, k_scale, k_shift = jax.random.split(key, 4)
  angle = jnp.deg2rad(max_rotation_deg) * jax.random.uniform(k_rot, (b,), minval=-1, maxval=1)
  shear = max_shear * jax.random.uniform(k_shear, (b,), minval=-1, maxval=1)
  scale = 1 + max_scale * jax.random.uniform(k_scale, (b, 2), minval=-1, maxval=1)
  shift = max_translate * jax.random.uniform(k_shift, (b, 2), minval=-1, maxval=1)

  cos, sin = jnp.cos(angle), jnp.sin(angle)
  # Output pixel (y, x) samples input at A @ (y - c, x - c) + c - shift.
  rot = jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2)
  shear_m = jnp.stack([jnp.stack([jnp.ones(b), jnp.zeros(b)], -1),
                       jnp.stack([shear, jnp.ones(b)], -1)], -2)
  inverse = (rot @ shear_m) / scale[:, :, None]

  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32),
                        jnp.arange(w, dtype=jnp.float32), indexing="ij")
  center = jnp.array([(h - 1) / 2, (w - 1) / 2])
  grid = jnp.stack([ys.ravel(), xs.ravel()], 0) - center[:, None]   # (2, HW)
  coords = inverse @ grid + (center - shift)[:, :, None]            # (B, 2, HW)

  def warp(image, coord):
    return jax.scipy.ndimage.map_coordinates(image[..., 0], list(coord),
                                             order=1, mode="constant", cval=0.0)
  warped = jax.vmap(warp)(images, coords)
  return warped.reshape(b, h, w, 1)
