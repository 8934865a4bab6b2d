"""Mask editing as pure functions: flood-fill add/remove under a click, brush strokes, previews.

Masks are uint8 arrays (H, W) with 255 = foreground (opaque sticker) and 0 = background.
Images are uint8 RGB arrays (H, W, 3). Nothing here knows about Streamlit.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
from PIL import Image

MODES = ("add", "remove", "toggle")


def as_mask(image: Image.Image | np.ndarray) -> np.ndarray:
    array = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    return np.where(array >= 128, 255, 0).astype(np.uint8)


def as_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB")).copy()
    return np.ascontiguousarray(image[..., :3]).astype(np.uint8)


def scale_point(x: float, y: float, shown: tuple[int, int], actual: tuple[int, int]) -> tuple[int, int]:
    """A click at (x, y) on an image shown at `shown` (w, h) → pixel of an image of size `actual` (w, h)."""
    px = int(x * actual[0] / max(shown[0], 1))
    py = int(y * actual[1] / max(shown[1], 1))
    return min(max(px, 0), actual[0] - 1), min(max(py, 0), actual[1] - 1)


def colour_region(rgb: np.ndarray, x: int, y: int, tolerance: int = 24) -> np.ndarray:
    """The 4-connected region of similar colour around (x, y) (each channel within `tolerance`
    of the clicked pixel), as a boolean array."""
    h, w = rgb.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"point ({x}, {y}) lies outside the {w}×{h} image")
    flood = np.zeros((h + 2, w + 2), np.uint8)
    diff = (tolerance,) * 3
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    cv2.floodFill(np.ascontiguousarray(rgb), flood, (x, y), (0, 0, 0), diff, diff, flags)
    return flood[1:-1, 1:-1] > 0


def click_edit(mask: np.ndarray, rgb: np.ndarray, x: int, y: int, mode: str = "toggle", tolerance: int = 24) -> np.ndarray:
    """Add or remove the connected colour region under a click.

    `toggle` removes it when the clicked pixel is foreground, and adds it otherwise.
    Returns a new mask; the input is not modified.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    region = colour_region(rgb, x, y, tolerance)
    if mode == "toggle":
        mode = "remove" if mask[y, x] >= 128 else "add"
    result = mask.copy()
    result[region] = 255 if mode == "add" else 0
    return result


def strokes_from_canvas(
    json_data: Mapping[str, Any] | None, canvas_size: tuple[int, int], mask_size: tuple[int, int]
) -> np.ndarray:
    """Rasterise free-draw brush strokes of a Fabric.js canvas JSON into a boolean (H, W) array
    at mask resolution. Paths hold absolute canvas coordinates; widths scale with the canvas."""
    width, height = mask_size
    painted = np.zeros((height, width), np.uint8)
    if not json_data:
        return painted.astype(bool)
    sx, sy = width / canvas_size[0], height / canvas_size[1]
    for obj in json_data.get("objects", []):
        if obj.get("type", "").lower() != "path":
            continue
        points = []
        for command in obj.get("path") or []:
            # M x y / L x y / Q cx cy x y: keep every coordinate pair (control points are close)
            coords = command[1:]
            points += [(coords[i] * sx, coords[i + 1] * sy) for i in range(0, len(coords) - 1, 2)]
        if not points:
            continue
        thickness = max(1, int(round(float(obj.get("strokeWidth", 1)) * (sx + sy) / 2)))
        polyline = np.round(np.array(points)).astype(np.int32)
        cv2.polylines(painted, [polyline], False, 255, thickness=thickness, lineType=cv2.LINE_8)
        for px, py in polyline[[0, -1]]:
            cv2.circle(painted, (int(px), int(py)), max(thickness // 2, 0), 255, -1)
    return painted > 0


def brush_edit(mask: np.ndarray, painted: np.ndarray, mode: str) -> np.ndarray:
    if mode not in ("add", "remove"):
        raise ValueError(f"unknown brush mode {mode!r}; expected add or remove")
    result = mask.copy()
    result[painted] = 255 if mode == "add" else 0
    return result


def to_rgba(rgb: np.ndarray, mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.dstack([rgb, mask]).astype(np.uint8), "RGBA")


def overlay(
    rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 0, 120), alpha: float = 0.45,
    outline: tuple[int, int, int] = (0, 170, 255),
) -> Image.Image:
    """The image with the background (mask 0) tinted, and the mask outline drawn."""
    out = rgb.astype(np.float32).copy()
    background = mask < 128
    out[background] = out[background] * (1 - alpha) + np.array(colour, np.float32) * alpha
    out = out.astype(np.uint8)
    contours, _ = cv2.findContours((mask >= 128).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, outline, 1)
    return Image.fromarray(out, "RGB")


def checkerboard(size: tuple[int, int], cell: int = 8) -> np.ndarray:
    width, height = size
    ys, xs = np.indices((height, width))
    light = ((xs // cell + ys // cell) % 2) == 0
    board = np.where(light[..., None], 235, 190).astype(np.uint8)
    return np.repeat(board, 3, axis=2)


def on_checkerboard(rgb: np.ndarray, mask: np.ndarray, cell: int | None = None) -> Image.Image:
    """The RGBA cut-out composited on a grey checkerboard, so transparency is visible."""
    h, w = mask.shape
    board = checkerboard((w, h), cell or max(4, w // 16)).astype(np.float32)
    a = (mask.astype(np.float32) / 255.0)[..., None]
    out = rgb.astype(np.float32) * a + board * (1 - a)
    return Image.fromarray(out.round().astype(np.uint8), "RGB")
