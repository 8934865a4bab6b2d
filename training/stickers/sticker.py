"""One Telegram static sticker from an RGBA image.

Telegram's rules for static stickers: PNG or WebP with transparency, one side exactly 512 px and
the other at most 512 px, at most 512 KB. The emoji is trimmed to its opaque content with a small
transparent margin, then scaled (Pillow resamples RGBA premultiplied, so edges get no white halo).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from db.errors import EmojichError

SIDE = 512
MAX_BYTES = 512 * 1024
MARGIN_SHARE = 0.04  # of the content's longer side, on each side
FORMATS = ("png", "webp")


class EmptySticker(EmojichError):
    pass


def trim(rgba: Image.Image, margin_share: float = MARGIN_SHARE) -> Image.Image:
    """Crop to the pixels that are not fully transparent, plus a transparent margin."""
    rgba = rgba.convert("RGBA")
    box = rgba.getchannel("A").getbbox()
    if box is None:
        raise EmptySticker("the mask is empty: nothing to put on a sticker")
    content = rgba.crop(box)
    margin = max(1, round(margin_share * max(content.size)))
    canvas = Image.new("RGBA", (content.width + 2 * margin, content.height + 2 * margin), (0, 0, 0, 0))
    canvas.paste(content, (margin, margin))
    return canvas


def fit(rgba: Image.Image, side: int = SIDE) -> Image.Image:
    """Scale so the longer side is exactly `side` (the other at most `side`, at least 1)."""
    width, height = rgba.size
    scale = side / max(width, height)
    size = (side, max(1, min(side, round(height * scale)))) if width >= height else (
        max(1, min(side, round(width * scale))), side)
    return rgba.resize(size, Image.LANCZOS)


def make_sticker(rgba: Image.Image, margin_share: float = MARGIN_SHARE) -> Image.Image:
    return fit(trim(rgba, margin_share))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _webp(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=quality, method=6)
    return buffer.getvalue()


@dataclass(frozen=True)
class Encoded:
    data: bytes
    fmt: str
    note: str = ""  # how it was brought under the size limit, if it had to be


def encode(sticker: Image.Image, fmt: str = "png", max_bytes: int = MAX_BYTES) -> Encoded:
    """PNG (lossless; palette-quantised if too big) or WebP (quality lowered until it fits)."""
    if fmt not in FORMATS:
        raise EmojichError(f"unknown sticker format {fmt!r}; expected png or webp")
    if fmt == "png":
        data = _png(sticker)
        if len(data) <= max_bytes:
            return Encoded(data, fmt)
        for colours in (256, 128, 64):
            data = _png(sticker.quantize(colours, method=Image.Quantize.FASTOCTREE))
            if len(data) <= max_bytes:
                return Encoded(data, fmt, f"quantised to {colours} colours")
    else:
        for quality in (90, 80, 70, 55, 40, 25):
            data = _webp(sticker, quality)
            if len(data) <= max_bytes:
                return Encoded(data, fmt, "" if quality == 90 else f"quality {quality}")
    raise EmojichError(f"cannot encode the sticker under {max_bytes // 1024} KB")
