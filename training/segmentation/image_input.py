"""Opening untrusted image files for segmentation: one clear reason for each file that cannot be used.

The checks and conversions are the dataset importer's (`training.dataset.safe_image`): empty, SVG,
decompression bombs checked from the header before decoding, not an image, truncated or corrupt
are refused; every mode Pillow opens is then turned into 8-bit RGB or RGBA (`to_8bit_colour`:
16-bit and float scaled by value, CMYK through its ICC profile, transparency kept for
`to_rgb_on_white` to composite over white).
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from db.errors import BadImage
from training.dataset.safe_image import MAX_PIXELS, BadInputFile, open_untrusted, to_8bit_colour


class RejectedImage(BadImage):
    pass


def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A fully decoded 8-bit RGB or RGBA copy of the image at `path` (first frame, EXIF-rotated),
    or RejectedImage saying why not."""
    try:
        image = open_untrusted(path, max_pixels).image
    except BadInputFile as exc:
        raise RejectedImage(str(exc)) from None
    return to_8bit_colour(image)
