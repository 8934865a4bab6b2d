"""Opening untrusted image files for segmentation: one clear reason for each file that cannot be used.

The checks are the dataset importer's (`training.dataset.safe_image.open_untrusted`: empty, SVG,
decompression bombs checked from the header before decoding, not an image, truncated or corrupt);
unlike the importer, which converts them, segmentation rejects modes that are not 8-bit colour or
grey (16-bit, 32-bit integer, float, CMYK, YCbCr, LAB, HSV): a mask predicted from a guessed
conversion is not worth keeping.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from db.errors import BadImage
from training.dataset.safe_image import MAX_PIXELS, BadInputFile, open_untrusted

ACCEPTED_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA"})


class RejectedImage(BadImage):
    pass


def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A fully decoded copy of the image at `path` (first frame), or RejectedImage saying why not."""
    try:
        image = open_untrusted(path, max_pixels).image
    except BadInputFile as exc:
        raise RejectedImage(str(exc)) from None
    if image.mode not in ACCEPTED_MODES:
        raise RejectedImage(f"unsupported image mode {image.mode} (8-bit grey or colour only)")
    return image
