"""Classical segmentation of an emoji drawn on white: the U-Net's fallback and the mask editor's
starting suggestion.

`contour_mask` (ours): pixels that are not near-white are the drawing; the outer contours of the
drawing are filled, so white regions enclosed by an outline (eyes, a sheet of paper, a cloud, a
sheep's fleece) stay opaque; specks smaller than a share of the image are dropped.

Two refinements read what the report's RGBA → RGB rule leaves in the pixels (alpha < 128 → pure
white, alpha ≥ 128 → the colour composited over white: v = a·c + (1 − a)·255 with a ≥ 0.5), and
so apply only where the background is flat (exactly one colour on the image's frame, noise next to
the drawing at most `flat_noise` levels): a compressed or generated image, whose background is
noisy, gets the plain rule above.

- Light paint (`light_paint`): a near-white pixel that is off the background's colour beyond its
  noise is drawing when it is at least half as far from the background as the ink within 2 px
  (coverage ≥ 0.5, the ground truth's alpha ≥ 128) and it lies on the drawing's 1-px rim (the
  anti-aliased edge of a light stroke) or in a part with a flat core (light-grey paint: a cloud,
  a halo, a page). JPEG ringing, weaker than half the ink beside it and never flat, stays out.
- True holes (`cut_holes`): an enclosed region of exactly the background's colour is a hole when
  its edge shows the alpha cut. Where ink meets opaque white paint the anti-aliased ramp runs all
  the way from the ink to white, so some edge pixels are lighter than half the ink; where ink
  meets transparency every pixel lighter than half was painted pure white, so none is. A region
  becomes transparent when at most `hole_light_share` of its soft edge pixels are lighter than
  half, with at least `hole_evidence` soft pixels spread over `hole_levels` coverage levels
  (a straight pixel-aligned edge has one coverage and proves nothing); otherwise it stays opaque.

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

NOISE_SIGMAS = 3.0  # a light pixel must be this many noise sigmas off the background
SOFT_RADIUS = 2  # px: the ink an edge pixel is compared with lies this close
FLAT_CORE = 9  # px: a light part with at least this many flat pixels (3×3 uniform) is paint
_LAPLACIAN = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class ContourParams:
    white_threshold: int = 242  # a pixel is near-white when every channel is at least this
    close_radius: int = 1  # closing before filling bridges outline gaps this wide (0: off)
    min_area_share: float = 0.0005  # drawing parts smaller than this share of the image are specks
    smooth_radius: int = 0  # opening after filling removes 1-px whiskers (0: off)
    light_paint: bool = True  # on a flat background, near-white pixels the alpha cut kept are drawing
    cut_holes: bool = True  # on a flat background, enclosed background regions showing the alpha cut are holes
    flat_noise: float = 0.5  # levels: the background is flat when its noise next to the drawing is at most this
    hole_light_share: float = 0.05  # a hole's soft edge pixels lighter than half the ink: at most this share
    hole_evidence: int = 16  # ...of at least this many soft edge pixels
    hole_levels: int = 4  # ...spread over at least this many of the 9 coverage bins in [0.5, 0.95)

    def __post_init__(self) -> None:
        if not 0 <= self.white_threshold <= 255:
            raise ValueError("white_threshold must be within 0..255")
        if self.close_radius < 0 or self.smooth_radius < 0:
            raise ValueError("radii must be non-negative")
        if not 0 <= self.min_area_share < 1:
            raise ValueError("min_area_share must be within [0, 1)")
        if self.flat_noise < 0 or not 0 <= self.hole_light_share < 1:
            raise ValueError("flat_noise must be ≥ 0 and hole_light_share within [0, 1)")
        if self.hole_evidence < 1 or not 0 <= self.hole_levels <= 9:
            raise ValueError("hole_evidence must be ≥ 1 and hole_levels within 0..9")


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _channel_min(image: np.ndarray) -> np.ndarray:
    return np.minimum(np.minimum(image[..., 0], image[..., 1]), image[..., 2])  # faster than .min(axis=-1)


def near_white(rgb: np.ndarray, threshold: int) -> np.ndarray:
    return _channel_min(rgb) >= threshold


@dataclass(frozen=True)
class Background:
    level: np.ndarray  # int16 (3,): its colour
    frame_noise: int  # levels: 99th percentile of the frame's deviation from it
    sigma: float  # levels: noise next to the drawing (inf when there is too little to measure)

    def flat(self, max_sigma: float) -> bool:
        return self.frame_noise == 0 and self.sigma <= max_sigma


def background_of(rgb: np.ndarray, threshold: int, strong: np.ndarray | None = None) -> Background:
    """The background's colour and noise. Colour and frame noise: from the image's 2-px frame,
    less the pixels within 2 px of the drawing (`strong`: the pixels that are not near-white, when
    already known); when the drawing covers most of the frame, pure white with no frame noise (the
    report's rule paints every transparent pixel 255). Noise next to the drawing: Immerkær's
    estimate of sigma (mean absolute Laplacian) over the pixels 3-6 px from it (from the light
    drawing itself when almost nothing is darker than near-white), where JPEG ringing and a
    generator's artefacts live; inf when fewer than 64 such pixels."""
    strong = (~near_white(rgb, threshold) if strong is None else strong).astype(np.uint8)
    near = cv2.dilate(strong, _disk(2)).astype(bool)
    frame = np.zeros(rgb.shape[:2], bool)
    frame[:2], frame[-2:], frame[:, :2], frame[:, -2:] = True, True, True, True
    sample = rgb[frame & ~near]
    if len(sample) >= 0.25 * frame.sum():
        level = np.median(sample, axis=0).astype(np.int16)
        frame_noise = int(np.quantile(np.abs(sample.astype(np.int16) - level).max(axis=-1), 0.99))
    else:
        level, frame_noise = np.full(3, 255, np.int16), 0
    drawing = strong
    if strong.sum() < 64:  # nothing darker than near-white: the light drawing itself
        drawing = (np.abs(rgb.astype(np.int16) - level).max(axis=-1) > 0).astype(np.uint8)
        near = cv2.dilate(drawing, _disk(2)).astype(bool)
    band = cv2.dilate(drawing, _disk(6)).astype(bool) & ~near
    sigma = float("inf")
    if band.sum() >= 64:
        response = cv2.filter2D(_channel_min(rgb).astype(np.float32), -1, _LAPLACIAN, borderType=cv2.BORDER_REPLICATE)
        sigma = float(np.sqrt(np.pi / 2) * np.abs(response[band]).mean() / 6)
    return Background(level, frame_noise, sigma)


def _deviation(rgb: np.ndarray, background: Background) -> np.ndarray:
    """uint8 H×W: how far each pixel is from the background's colour (its farthest channel,
    towards dark), less the noise; 0 = background."""
    noise = int(np.ceil(NOISE_SIGMAS * background.sigma))
    level = background.level
    channels = [int(level[c]) - rgb[..., c].astype(np.int16) for c in range(3)]
    dev = np.maximum(np.maximum(channels[0], channels[1]), channels[2]) - noise
    return np.clip(dev, 0, 255).astype(np.uint8)


def _half_cover(dev: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Pixels at least half as far from the background as the ink next to them (1 level for
    rounding): those a cut at alpha 128 keeps."""
    return dev.astype(np.int16) >= ink.astype(np.int16) // 2 - 1


def _light_paint(rgb: np.ndarray, strong: np.ndarray, dev: np.ndarray, ink: np.ndarray) -> np.ndarray:
    light = (dev > 0) & ~strong & _half_cover(dev, ink)
    rim = light & cv2.dilate(strong.astype(np.uint8), _disk(1)).astype(bool)
    k = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(rgb, k) - cv2.erode(rgb, k)  # per channel, ≥ 0
    flat = light & ((spread[..., 0] | spread[..., 1] | spread[..., 2]) == 0)
    count, labels = cv2.connectedComponents((light & ~rim).astype(np.uint8), connectivity=8)
    painted = np.bincount(labels[flat], minlength=count) >= FLAT_CORE
    painted[0] = False
    return rim | painted[labels]


def _is_hole(dev: np.ndarray, ink: np.ndarray, region: np.ndarray, params: ContourParams) -> bool:
    edge = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~region & (dev > 0)
    d, full = dev[edge].astype(np.float32), ink[edge].astype(np.float32)
    light = ~_half_cover(d, full)
    soft = ~light & (d < 0.95 * full)
    n_light, n_soft = int(light.sum()), int(soft.sum())
    if n_soft < params.hole_evidence or n_light > params.hole_light_share * (n_light + n_soft):
        return False
    coverage = d[soft] / np.maximum(full[soft], 1)
    return len(np.unique(np.clip((coverage - 0.5) // 0.05, 0, 8))) >= params.hole_levels


def _cut_holes(mask: np.ndarray, dev: np.ndarray, ink: np.ndarray, min_area: float, params: ContourParams) -> None:
    inside = (mask.astype(bool) & (dev == 0)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < max(min_area, 1):
            continue
        x, y, w, h = stats[label, :4]
        window = np.s_[max(0, y - 2): y + h + 2, max(0, x - 2): x + w + 2]
        region = labels[window] == label
        if _is_hole(dev[window], ink[window], region, params):
            mask[window][region] = 0


def contour_mask(rgb: np.ndarray, params: ContourParams = ContourParams()) -> np.ndarray:
    rgb = np.ascontiguousarray(rgb[..., :3])
    strong = ~near_white(rgb, params.white_threshold)
    dev = ink = None
    if params.light_paint or params.cut_holes:
        background = background_of(rgb, params.white_threshold, strong)
        if background.flat(params.flat_noise):
            dev = _deviation(rgb, background)
            ink = cv2.dilate(dev, _disk(SOFT_RADIUS))
    drawing = strong
    if params.light_paint and dev is not None:
        drawing = strong | _light_paint(rgb, strong, dev, ink)
    drawing = drawing.astype(np.uint8)
    if params.close_radius:
        drawing = cv2.morphologyEx(drawing, cv2.MORPH_CLOSE, _disk(params.close_radius))
    contours, _ = cv2.findContours(drawing, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = params.min_area_share * drawing.size
    # contourArea is 0 for a one-pixel-wide outline: count the pixels the filled outline covers
    kept = [c for c in contours if max(cv2.contourArea(c), len(c)) >= min_area]
    mask = np.zeros_like(drawing)
    cv2.drawContours(mask, kept, -1, 1, thickness=cv2.FILLED)
    if params.cut_holes and dev is not None:
        _cut_holes(mask, dev, ink, min_area, params)
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
