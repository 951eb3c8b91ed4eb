"""Training distortions that respect handwriting: the variation between
writers, never what turns one character into another (no flips, no large
rotations: 6/9, b/d/p/q, n/u, M/W).

  random_affine    characters, on the device inside the jitted step: small
                   random rotation, shear, anisotropic scale, translation
  sample_geometry, distort
                   word images, on the host (OpenCV): slant, width, size,
                   stroke thickness, contrast, blur, noise
"""

import cv2
import jax
import jax.numpy as jnp
import numpy as np


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


# -- word images (host side) ------------------------------------------------
# Each training word gets a random draw of each distortion, so the reader does
# not learn one writer's hand. Images are model inputs (`word_input.to_input`:
# fixed height, ink bright on black).

def sample_geometry(widths: np.ndarray, height: int, rng: np.random.Generator,
                    max_stretch: float = 1.25, max_slant: float = 0.4):
  """Per image: a horizontal stretch (log-uniform in [1/max_stretch,
  max_stretch]), a slant (shear, uniform in +-max_slant) and the output
  width that holds both."""
  n = len(widths)
  stretch = np.exp(rng.uniform(-np.log(max_stretch), np.log(max_stretch), n))
  slant = rng.uniform(-max_slant, max_slant, n)
  out = np.round(widths * stretch + np.abs(slant) * height).astype(np.int64)
  return stretch, slant, out


def distort(image: np.ndarray, width: int, slant: float, rng: np.random.Generator) -> np.ndarray:
  """(H, w) uint8 -> (H, width): the image stretched to fill `width` (less
  the room the slant takes), slanted, slightly rotated and rescaled
  vertically, then thicker or thinner strokes, other contrast, blur, noise."""
  h, w = image.shape
  cx_src, cy = w / 2, h / 2
  sx = max(width - abs(slant) * h, 4) / w
  sy = rng.uniform(0.85, 1.05)
  angle = np.deg2rad(rng.uniform(-2.0, 2.0))
  c, s = np.cos(angle), np.sin(angle)
  # src -> dst: rotate(shear(scale(p - centre))) + centre of dst (+ jitter)
  linear = np.array([[c, -s], [s, c]]) @ np.array([[1, -slant], [0, 1]]) @ np.diag([sx, sy])
  shift = np.array([width / 2, cy + rng.uniform(-1.5, 1.5)]) - linear @ np.array([cx_src, cy])
  matrix = np.hstack([linear, shift[:, None]]).astype(np.float32)
  out = cv2.warpAffine(image, matrix, (int(width), h), flags=cv2.INTER_LINEAR, borderValue=0)
  r = rng.random()
  if r < 0.25:
    out = cv2.dilate(out, np.ones((2, 2), np.uint8))
  elif r < 0.4:
    out = cv2.erode(out, np.ones((2, 1), np.uint8))
  out = out.astype(np.float32) * rng.uniform(0.6, 1.0)
  if rng.random() < 0.3:
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 0.8))
  out += rng.normal(0, rng.uniform(0, 10), out.shape)
  return np.clip(out, 0, 255).astype(np.uint8)


# -- ink (on device) ----------------------------------------------------------

def random_ink_affine(key, points: jnp.ndarray, max_stretch: float = 0.15,
                      max_slant: float = 0.3) -> jnp.ndarray:
  """Each line of ink features (B, T, 4: dx, dy, pen lift, height;
  `preprocess/ink.features`) under its own random linear map of the pen's
  plane: a horizontal and a vertical stretch (log-uniform within
  +-max_stretch) and a slant (shear, uniform within +-max_slant). The
  features are linear in the points, so the map applies to them directly;
  padding stays zero."""
  b = points.shape[0]
  k_x, k_y, k_slant = jax.random.split(key, 3)
  sx = jnp.exp(jax.random.uniform(k_x, (b, 1), minval=-max_stretch, maxval=max_stretch))
  sy = jnp.exp(jax.random.uniform(k_y, (b, 1), minval=-max_stretch, maxval=max_stretch))
  slant = jax.random.uniform(k_slant, (b, 1), minval=-max_slant, maxval=max_slant)
  dx, dy, lift, height = (points[..., i] for i in range(4))
  return jnp.stack([sx * (dx + slant * dy), sy * dy, lift, sy * height], -1)
