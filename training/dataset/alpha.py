"""The report's RGBA → RGB rule, the alpha mask and the near-white share.

Report, section II: "pixels with opacity value less than 128 are assigned white colour code".
Pixels with alpha ≥ 128 are composited over white (so soft edges stay smooth).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ALPHA_THRESHOLD = 128
NEAR_WHITE = 235  # every channel at least this much counts as near-white


def rgba_to_rgb(image: Image.Image) -> Image.Image:
    """alpha < 128 → pure white; alpha ≥ 128 → colour composited over white."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    colour, alpha = rgba[..., :3], rgba[..., 3:4] / 255.0
    rgb = colour * alpha + 255.0 * (1.0 - alpha)
    rgb[rgba[..., 3] < ALPHA_THRESHOLD] = 255.0
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")


def alpha_mask(image: Image.Image) -> Image.Image:
    """Mode L mask: 255 where alpha ≥ 128, else 0."""
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    return Image.fromarray(np.where(alpha >= ALPHA_THRESHOLD, 255, 0).astype(np.uint8), "L")


def white_share(rgb: Image.Image, mask: Image.Image) -> float:
    """Share of foreground (mask) pixels that are near-white in the RGB image: the pixels a
    "white means transparent" rule would wrongly cut out (why the report needs a U-Net)."""
    foreground = np.asarray(mask) >= ALPHA_THRESHOLD
    total = int(foreground.sum())
    if total == 0:
        return 0.0
    near_white = (np.asarray(rgb.convert("RGB")) >= NEAR_WHITE).all(axis=-1)
    return float((near_white & foreground).sum() / total)
