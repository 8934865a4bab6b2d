"""The report's RGBA → RGB rule, the alpha mask and the near-white share.

Report, section II: "pixels with opacity value less than 128 are assigned white colour code".
Pixels with alpha ≥ 128 are composited over white (so soft edges stay smooth).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ALPHA_THRESHOLD = 128
NEAR_WHITE = 235  # every channel at least this much counts as near-white
WHITE = (255, 255, 255, 255)
_BELOW_THRESHOLD = [255 if v < ALPHA_THRESHOLD else 0 for v in range(256)]
_AT_OR_ABOVE_THRESHOLD = [0 if v < ALPHA_THRESHOLD else 255 for v in range(256)]


def rgba_to_rgb(image: Image.Image) -> Image.Image:
    """alpha < 128 → pure white; alpha ≥ 128 → colour composited over white."""
    rgba = image.convert("RGBA")
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba).convert("RGB")
    rgb.paste(WHITE[:3], mask=rgba.getchannel("A").point(_BELOW_THRESHOLD))
    return rgb


def alpha_mask(image: Image.Image) -> Image.Image:
    """Mode L mask: 255 where alpha ≥ 128, else 0."""
    return image.convert("RGBA").getchannel("A").point(_AT_OR_ABOVE_THRESHOLD)


def white_share(rgb: Image.Image, mask: Image.Image) -> float:
    """Share of foreground (mask) pixels that are near-white in the RGB image: the pixels a
    "white means transparent" rule would wrongly cut out (why the report needs a U-Net)."""
    foreground = np.asarray(mask) >= ALPHA_THRESHOLD
    total = int(foreground.sum())
    if total == 0:
        return 0.0
    near_white = np.asarray(rgb.convert("RGB")).min(axis=-1) >= NEAR_WHITE
    return float((near_white & foreground).sum() / total)
