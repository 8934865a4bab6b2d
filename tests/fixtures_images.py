"""Image files in every mode Pillow opens, and a small CMYK ICC profile built here (Debian ships
no free CMYK profile, and none may be downloaded).

- `cmyk_icc_profile()`: the bytes of an ICC v2 printer profile (CMYK → Lab, a 2-point lut16
  per ink) whose inks are realistic process colours, so a conversion through it differs from
  Pillow's plain `convert("RGB")`: process cyan comes out about (0, 158, 224), not (0, 255, 255).
- `emoji_picture(size)`: an RGBA emoji-like drawing (red disc, black outline, a white eye inside,
  a white sheet with a dark outline) on transparency, and its truth mask.
"""
from __future__ import annotations

import itertools
import struct

import cv2
import numpy as np
from PIL import Image

# sRGB of each process ink on white paper (multiplied together where inks overlap)
INKS = {"C": (0.0, 0.62, 0.88), "M": (0.93, 0.0, 0.55), "Y": (1.0, 0.95, 0.0), "K": (0.12, 0.12, 0.12)}
_SRGB_TO_XYZ_D50 = np.array(
    [[0.4360747, 0.3850649, 0.1430804], [0.2225045, 0.7168786, 0.0606169], [0.0139322, 0.0971045, 0.7141733]]
)
_D50 = np.array([0.9642, 1.0, 0.8249])


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    c = np.asarray(rgb, float)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = _SRGB_TO_XYZ_D50 @ linear / _D50
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _tag(signature: bytes, body: bytes) -> tuple[bytes, bytes]:
    return signature, body + b"\0" * (-len(body) % 4)


def cmyk_icc_profile() -> bytes:
    grid = []
    for corner in itertools.product((0, 1), repeat=4):  # C slowest, K fastest (ICC CLUT order)
        colour = np.ones(3)
        for ink, on in zip("CMYK", corner, strict=True):
            if on:
                colour *= INKS[ink]
        lab = _lab(tuple(colour))
        grid.append((
            round(min(max(lab[0], 0), 100) / 100 * 0xFF00),
            round(min(max(lab[1] + 128, 0), 255.99) * 256),
            round(min(max(lab[2] + 128, 0), 255.99) * 256),
        ))
    lut = b"mft2" + b"\0" * 4 + bytes([4, 3, 2, 0])
    lut += b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut += struct.pack(">HH", 2, 2)
    lut += struct.pack(">8H", *([0, 65535] * 4))
    lut += b"".join(struct.pack(">3H", *entry) for entry in grid)
    lut += struct.pack(">6H", *([0, 65535] * 3))
    text = b"test CMYK"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text) + 1) + text + b"\0" + b"\0" * (4 + 4 + 2 + 1 + 67)
    white = b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in _D50)
    tags = [_tag(b"desc", desc), _tag(b"wtpt", white), _tag(b"cprt", b"text\0\0\0\0no copyright\0"), _tag(b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"prtr" + b"CMYK" + b"Lab "
    header += struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
    header += b"".join(_s15(v) for v in _D50) + b"\0" * 4 + b"\0" * 44
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def emoji_picture(size: int = 64) -> tuple[Image.Image, np.ndarray]:
    """An RGBA drawing on transparency and its truth (True = opaque): a red disc with a black
    outline holding a white eye (enclosed white that must stay opaque), and a dark tab at the top
    right (so a turned picture is told from an upright one)."""
    rgba = np.zeros((size, size, 4), np.uint8)
    centre, radius = (size // 2, size // 2), int(size * 0.38)
    cv2.rectangle(rgba, (size // 2, size // 16), (size - size // 16, size // 4), (40, 40, 120, 255), -1)
    cv2.circle(rgba, centre, radius, (20, 20, 20, 255), thickness=-1, lineType=cv2.LINE_8)
    cv2.circle(rgba, centre, radius - max(2, size // 32), (220, 30, 30, 255), thickness=-1, lineType=cv2.LINE_8)
    cv2.circle(rgba, (centre[0] - size // 8, centre[1] - size // 10), size // 10, (255, 255, 255, 255), -1)
    cv2.circle(rgba, (centre[0] - size // 8, centre[1] - size // 10), size // 30, (0, 0, 0, 255), -1)
    return Image.fromarray(rgba, "RGBA"), rgba[..., 3] >= 128
