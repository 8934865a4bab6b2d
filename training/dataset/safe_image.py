"""Open an untrusted image file as a square RGBA image, or say in one line why not.

Handled: zero-byte, truncated and non-image files, SVG under a raster name, decompression
bombs (a pixel cap checked from the header, before decoding), animated images (first frame),
palette, LA, 16-bit, CMYK and other modes, EXIF orientation (transposed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from db.errors import EmojichError

MAX_PIXELS = 4096 * 4096
EXIF_ORIENTATION = 0x0112
_SVG_HEADS = (b"<svg", b"<?xml", b"<!doctype svg")


class BadInputFile(EmojichError):
    """An input image that cannot be used; the message is the one-line reason."""


@dataclass
class LoadedImage:
    image: Image.Image  # load_rgba: RGBA, square, transparent padding; open_untrusted: as decoded
    notes: list[str] = field(default_factory=list)  # what was normalised, one phrase each


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(_SVG_HEADS) or (text.startswith(b"<") and b"<svg" in head.lower())


def _sixteen_bit_to_8(image: Image.Image) -> Image.Image:
    """Grey 16-bit (I;16*, or I holding 16-bit data) to L by keeping the high byte."""
    values = np.asarray(image, dtype=np.int64)
    if image.mode == "I" and values.max(initial=0) <= 255:
        return Image.fromarray(values.clip(0, 255).astype(np.uint8), "L")
    return Image.fromarray((values.clip(0, 65535) >> 8).astype(np.uint8), "L")


def _to_rgba(image: Image.Image, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode == "RGBA":
        return image
    if mode == "P":
        notes.append("palette image converted to RGBA")
    elif mode in ("LA", "La", "PA"):
        notes.append(f"{mode} (grey + alpha) converted to RGBA")
    elif mode.startswith("I;16") or mode == "I":
        notes.append(f"16-bit ({mode}) reduced to 8-bit")
        image = _sixteen_bit_to_8(image)
    elif mode == "CMYK":
        notes.append("CMYK converted to RGB")
        image = image.convert("RGB")
    elif mode == "F":
        notes.append("float image clipped to 8-bit")
        image = Image.fromarray(np.asarray(image).clip(0, 255).astype(np.uint8), "L")
    if image.mode in ("RGB", "L", "1", "YCbCr", "LAB", "HSV"):
        notes.append("no alpha channel: treated as fully opaque")
    return image.convert("RGBA")


def pad_to_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = max(width, height)
    if width == height:
        return image
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def open_untrusted(path: Path, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """The file's first frame, decoded and EXIF-transposed, in its own mode, plus notes; raises
    BadInputFile with a one-line reason (empty, SVG, bomb, not an image, truncated or corrupt)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadInputFile(f"cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise BadInputFile("empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(512)
    if _looks_like_svg(head):
        raise BadInputFile("SVG (vector) file, not a raster image; export it as PNG first")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise BadInputFile(
                        f"too many pixels ({width}×{height} > cap {max_pixels}): possible decompression bomb, not decoded"
                    )
                frames = getattr(opened, "n_frames", 1)
                if frames > 1:
                    opened.seek(0)
                    notes.append(f"animated ({frames} frames): first frame used")
                opened.load()
                orientation = opened.getexif().get(EXIF_ORIENTATION, 1)
                image = ImageOps.exif_transpose(opened) if orientation != 1 else opened.copy()
                if orientation != 1:
                    notes.append(f"EXIF orientation {orientation}: transposed")
    except BadInputFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputFile(f"decompression bomb refused ({' '.join(str(exc).split())})") from exc
    except UnidentifiedImageError as exc:
        raise BadInputFile("not an image (unrecognised format)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInputFile(f"truncated or corrupt image ({' '.join(str(exc).split())})") from exc
    if image.width == 0 or image.height == 0:
        raise BadInputFile("image has no pixels")
    return LoadedImage(image, notes)


def load_rgba(path: Path, max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """The file as a square RGBA image plus notes; raises BadInputFile with a one-line reason."""
    opened = open_untrusted(path, max_pixels)
    notes = opened.notes
    rgba = _to_rgba(opened.image, notes)
    if rgba.width != rgba.height:
        notes.append(f"{rgba.width}×{rgba.height} padded to a square")
    return LoadedImage(pad_to_square(rgba), notes)
