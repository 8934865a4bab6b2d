"""Classical segmentation of an emoji drawn on white: the U-Net's fallback and the mask editor's
starting suggestion.

`contour_mask` (ours): pixels that are not near-white are the drawing; the outer contours of the
drawing are filled, so white regions enclosed by an outline (eyes, a sheet of paper, a cloud, a
sheep's fleece) stay opaque; specks smaller than a share of the image are dropped.

`released_mask` (the baseline to beat): the released Emojich code's `classic_convert_emoji_to_rgba`,
re-implemented: at 512 px, near-white 240–255 with `cv2.inRange`, `RETR_TREE` contours of the
white regions, the 7 with the most points filled (and stroked 2 px) as transparent. Any white
interior with a long enough contour is cut out.

Both take an RGB uint8 array (H×W×3) and return a boolean mask (True = opaque).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ContourParams:
    white_threshold: int = 242  # a pixel is near-white when every channel is at least this
    close_radius: int = 1  # closing before filling bridges outline gaps this wide (0: off)
    min_area_share: float = 0.0005  # drawing parts smaller than this share of the image are specks
    smooth_radius: int = 0  # opening after filling removes 1-px whiskers (0: off)

    def __post_init__(self) -> None:
        if not 0 <= self.white_threshold <= 255:
            raise ValueError("white_threshold must be within 0..255")
        if self.close_radius < 0 or self.smooth_radius < 0:
            raise ValueError("radii must be non-negative")
        if not 0 <= self.min_area_share < 1:
            raise ValueError("min_area_share must be within [0, 1)")


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def near_white(rgb: np.ndarray, threshold: int) -> np.ndarray:
    return (rgb >= threshold).all(axis=-1)


def contour_mask(rgb: np.ndarray, params: ContourParams = ContourParams()) -> np.ndarray:
    drawing = (~near_white(rgb, params.white_threshold)).astype(np.uint8)
    if params.close_radius:
        drawing = cv2.morphologyEx(drawing, cv2.MORPH_CLOSE, _disk(params.close_radius))
    contours, _ = cv2.findContours(drawing, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = params.min_area_share * drawing.size
    # contourArea is 0 for a one-pixel-wide outline: count the pixels the filled outline covers
    kept = [c for c in contours if max(cv2.contourArea(c), len(c)) >= min_area]
    mask = np.zeros_like(drawing)
    cv2.drawContours(mask, kept, -1, 1, thickness=cv2.FILLED)
    if params.smooth_radius:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(params.smooth_radius))
    return mask.astype(bool)


def released_mask(
    rgb: np.ndarray, lower: int = 240, upper: int = 255, width: int = 2, n_contours: int = 7, work_size: int = 512
) -> np.ndarray:
    height, width_px = rgb.shape[:2]
    img = np.ascontiguousarray(rgb[..., :3])
    if (height, width_px) != (work_size, work_size):
        img = cv2.resize(img, (work_size, work_size), interpolation=cv2.INTER_LINEAR)
    white = cv2.inRange(img, np.array([lower] * 3, np.uint8), np.array([upper] * 3, np.uint8))
    contours, _ = cv2.findContours(white, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    alpha = np.full((work_size, work_size), 255, np.uint8)
    if contours:
        contours = sorted(contours, key=lambda c: c.shape[0])[-n_contours:]
        cv2.fillPoly(alpha, contours, 0)
        cv2.drawContours(alpha, contours, -1, 0, width)
    if (height, width_px) != (work_size, work_size):
        alpha = cv2.resize(alpha, (width_px, height), interpolation=cv2.INTER_NEAREST)
    return alpha >= 128
