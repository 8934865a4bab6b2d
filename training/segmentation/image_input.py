"""Opening untrusted image files: one clear reason for each file that cannot be used.

Rejected: files Pillow cannot identify (not an image), truncated or corrupt files, decompression
bombs (more than MAX_PIXELS pixels, checked from the header before decoding), and modes that are
not 8-bit colour or grey (16-bit, 32-bit integer, float, CMYK, YCbCr, LAB, HSV).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from db.errors import BadImage

MAX_PIXELS = 4096 * 4096
ACCEPTED_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA"})


class RejectedImage(BadImage):
    pass


def open_image(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A fully decoded copy of the image at `path` (first frame), or RejectedImage saying why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise RejectedImage(
                        f"decompression bomb: {width}×{height} pixels is over the limit of {max_pixels}"
                    )
                if image.mode not in ACCEPTED_MODES:
                    raise RejectedImage(f"unsupported image mode {image.mode} (8-bit grey or colour only)")
                image.load()
                return image.copy()
    except RejectedImage:
        raise
    except UnidentifiedImageError:
        raise RejectedImage("not an image (Pillow cannot identify it)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RejectedImage(f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise RejectedImage(f"corrupt image: {exc}") from None
