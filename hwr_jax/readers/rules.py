"""Post-processing rules of the segmentation reader, over the classifier's
per-character probabilities: words are letters or digits, one case per word,
and case decided by size for letters whose two cases share a shape."""

import numpy as np

# Letters whose lower- and uppercase forms have the same shape; only their
# size and position on the line tell them apart.
SAME_SHAPE = set("cmosuvwxzpy")
# Characters whose height marks the cap height / ascender line.
TALL = set("ABDEFGHJKLMNPQRTUY0123456789bdfhklt")
# Lowercase letters that mark the x-height.
X_HEIGHT = set("aenr")


def letters_or_digits(probs: np.ndarray, charset: str) -> np.ndarray:
  """Words are letters or numbers, rarely a mix: when most characters of a
  word are more likely digits, every character is read as the best digit,
  otherwise as the best letter. Removes l/1, O/0, g/9, S/5 slips (and cannot
  read mixed strings such as 'B52'). Returns classes."""
  is_digit = np.array([c.isdigit() for c in charset])
  digit_mass = probs[:, is_digit].sum(1)
  allowed = is_digit if (digit_mass > 0.5).mean() > 0.5 else ~is_digit
  return np.where(allowed, probs, -1).argmax(-1)


def consistent_case(classes: np.ndarray, probs: np.ndarray, charset: str) -> np.ndarray:
  """Handwritten words are lowercase, Capitalized or ALL CAPS: the case most
  letters after the first have wins, and those letters are read as the best
  letter of that case (the first letter keeps its own). Returns classes."""
  chars = [charset[k] for k in classes]
  rest = [c for c in chars[1:] if c.isalpha()]
  if not rest:
    return classes
  upper = sum(c.isupper() for c in rest) > len(rest) / 2
  allowed = np.array([c.isupper() if upper else c.islower() for c in charset])
  forced = np.where(allowed, probs, -1).argmax(-1)
  out = np.array(classes)
  for i in range(1 if not upper else 0, len(out)):
    if chars[i].isalpha():
      out[i] = forced[i]
  return out


def case_by_size(chars: list[str], boxes, charset: str) -> list[int]:
  """Picks lower or upper case of same-shape letters (o/O, s/S, ...) from
  their height against the line: the tall characters' height (cap height)
  or, without any, the x-height letters' height. Returns class indices."""
  tops = np.array([b[1] for b in boxes], np.float32)
  bottoms = np.array([b[3] for b in boxes], np.float32)
  heights = bottoms - tops
  tall = [i for i, c in enumerate(chars) if c in TALL]
  small = [i for i, c in enumerate(chars) if c in X_HEIGHT]
  baseline = float(np.median(bottoms))
  classes = [charset.index(c) for c in chars]
  for i, c in enumerate(chars):
    if c.lower() not in SAME_SHAPE or c.lower() not in charset or c.upper() not in charset:
      continue
    above = baseline - tops[i]   # how far the glyph reaches above the baseline
    if tall:
      is_upper = above > 0.8 * float(np.median(baseline - tops[tall]))
    elif small:
      is_upper = heights[i] > 1.3 * float(np.median(heights[small]))
    else:
      continue  # no reference on this line: keep the classifier's choice
    classes[i] = charset.index(c.upper() if is_upper else c.lower())
  return classes
