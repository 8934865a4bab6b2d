"""Open an untrusted image file as a square RGBA image, or say in one line why not.

Handled: zero-byte, truncated and non-image files, SVG under a raster name, decompression
bombs (a pixel cap checked from the header, before decoding), animated images (first frame),
EXIF orientation (transposed). `to_8bit_colour` turns every mode Pillow opens into 8-bit RGB or
RGBA: 16-bit and float scaled by value, CMYK through its ICC profile when it has one, LAB to sRGB.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

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
    """Grey 16-bit (I;16*) or 32-bit integer (I) to L, scaled by value: 0..65535 → 0..255
    (Pillow's own `convert("L")` clips at 255 and turns most 16-bit pictures white). An I image
    whose values all fit in 0..255 is 8-bit data in a wide container and is kept as it is."""
    values = np.asarray(image, dtype=np.int64)
    if image.mode == "I" and values.min(initial=0) >= 0 and values.max(initial=0) <= 255:
        return Image.fromarray(values.astype(np.uint8), "L")
    return Image.fromarray(np.rint(values.clip(0, 65535) / 257.0).astype(np.uint8), "L")


def _float_to_8(image: Image.Image) -> Image.Image:
    """Float grey (F) to L: values within 0..1 are scaled to 0..255, others clipped to 0..255."""
    values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=255.0, neginf=0.0)
    if values.size and values.min() >= 0.0 and values.max() <= 1.0:
        values = values * 255.0
    return Image.fromarray(np.rint(values.clip(0, 255)).astype(np.uint8), "L")


def _cmyk_to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """CMYK to RGB through the file's ICC profile when it has a usable one (sRGB out, perceptual
    intent), else Pillow's plain conversion."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            notes.append("CMYK converted to RGB (its ICC profile is unusable: plain conversion)")
        else:
            notes.append("CMYK converted to RGB with its ICC profile")
            return rgb
    else:
        notes.append("CMYK converted to RGB (no ICC profile: plain conversion)")
    return image.convert("RGB")


def _lab_to_rgb(image: Image.Image) -> Image.Image:
    return ImageCms.profileToProfile(
        image, ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )


def to_8bit_colour(image: Image.Image, notes: list[str] | None = None) -> Image.Image:
    """Any mode Pillow opens → 8-bit RGB, or RGBA when the image carries transparency (an alpha
    channel, or a palette/grey/RGB `transparency` entry). One phrase per change goes to `notes`."""
    notes = [] if notes is None else notes
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        if mode == "RGB" and "transparency" in image.info:
            notes.append("RGB with a transparent colour converted to RGBA")
            return image.convert("RGBA")
        return image
    if mode == "P":
        notes.append("palette image converted to RGBA")
        return image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    if mode in ("LA", "La", "PA", "RGBa"):
        notes.append(f"{mode} (with alpha) converted to RGBA")
        return image.convert("RGBA") if mode != "La" else image.convert("LA").convert("RGBA")
    if mode in ("1", "L"):
        return image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        notes.append(f"16-bit ({mode}) scaled to 8-bit")
        return _sixteen_bit_to_8(image).convert("RGB")
    if mode == "F":
        notes.append("float image scaled to 8-bit")
        return _float_to_8(image).convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(image, notes)
    if mode == "LAB":
        notes.append("CIELAB converted to sRGB")
        return _lab_to_rgb(image)
    notes.append(f"{mode} converted to RGB")
    return image.convert("RGB")  # YCbCr, HSV, RGBX and the rest


def _to_rgba(image: Image.Image, notes: list[str]) -> Image.Image:
    rgb = to_8bit_colour(image, notes)
    if rgb.mode != "RGBA":
        notes.append("no alpha channel: treated as fully opaque")
    return rgb.convert("RGBA")


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
