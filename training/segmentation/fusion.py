"""Which mask wins, region by region: the contour method's outline, the U-Net's word on white.

The contour method is right about almost every boundary that has ink on it, and wrong only about
near-white regions, which it cannot tell apart from the background by colour: an enclosed white
region is kept opaque (right for eyes and paper, wrong for a ring's hole), and white paint that
touches the background with no outline is cut away. The U-Net, trained for minutes on one art
style, draws blurry and sometimes misplaced boundaries, but it is good at the one question the
contour method cannot answer: is this white region part of the emoji?

So `fuse` takes the contour mask and asks the U-Net only about near-white regions:

1. an enclosed near-white region (inside the filled outline) becomes a hole (transparent) only
   when all of these hold: its core (`core_radius` U-Net pixels in from its edge, at least
   `min_core` U-Net pixels²) has a mean U-Net probability below `hole_below`; its colour is the
   background's (a hole shows the background: mean deviation ≤ `background_tolerance` levels,
   which no shaded or off-white paint passes); and the U-Net sees the ink around it as opaque
   (mean ≥ `rim_above`). Otherwise it stays opaque, the contour method's answer;
2. near-white pixels outside the outline that the U-Net calls opaque, less the blurred band of
   `halo_radius` U-Net pixels that a U-Net's edge always spills over the drawing, are grouped into
   regions; a region joins the mask when it touches the outline and its mean probability is at
   least `paint_above`. Only the outside counts (transparent pixels connected to the image's
   frame): a hole the contour method cut, from the alpha cut it saw on its edge, stays open
   (filling them cost two bench images 0.05 and 0.11 IoU).

Everything else (every boundary drawn in ink) is the contour method's. Regions smaller than
`min_region_share` of the image keep the contour method's decision. The defaults are
conservative on purpose (README, Segmentation: measured on four art styles): a wrong hole costs a
whole white interior, so the U-Net must be nearly certain.

The fused mask's confidence (`agreement`) is the IoU between the U-Net's own mask and the fused
one: where the two disagree beyond the decided regions, either the outline or the U-Net is off.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.segmentation.contour import ContourParams, contour_mask, near_white


@dataclass(frozen=True)
class FusionParams:
    hole_below: float = 0.005  # an enclosed white region whose core's mean U-Net probability is below this is a hole
    paint_above: float = 0.92  # white outside the outline joins when its mean U-Net probability reaches this
    halo_radius: float = 2.0  # U-Net px: the band of blurred U-Net edge around the drawing that is never added
    core_radius: float = 1.0  # U-Net px: an enclosed region is judged on its core (this far from its edge)
    min_core: float = 16.0  # U-Net px²: regions with a smaller core keep the contour method's decision
    min_region_share: float = 0.0005  # smaller regions keep the contour method's decision
    background_tolerance: float = 2.0  # a hole shows the background: its colour may differ from it by this much
    rim_above: float = 0.5  # ...and the U-Net must see the ink around a hole as opaque (mean probability)

    def __post_init__(self) -> None:
        if not (0 < self.hole_below < 1 and 0 < self.paint_above < 1):
            raise ValueError("hole_below and paint_above must be within (0, 1)")
        if min(self.halo_radius, self.core_radius, self.min_core) < 0 or not 0 <= self.min_region_share < 1:
            raise ValueError("radii and min_core must be ≥ 0 and min_region_share within [0, 1)")


@dataclass(frozen=True)
class Fusion:
    mask: np.ndarray  # bool, True = opaque
    contour: np.ndarray  # the contour method's mask it started from
    holes: int  # enclosed white regions the U-Net made transparent
    added: int  # white regions outside the outline the U-Net made opaque
    agreement: float  # IoU(U-Net mask, fused mask)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _exterior(mask: np.ndarray) -> np.ndarray:
    """The transparent pixels connected to the image's frame: the outside, not enclosed holes."""
    count, labels = cv2.connectedComponents((~mask).astype(np.uint8), connectivity=4)
    frame = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, frame[frame > 0]) & ~mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def fuse(
    rgb: np.ndarray,
    p: np.ndarray,
    contour_params: ContourParams = ContourParams(),
    params: FusionParams = FusionParams(),
    contour: np.ndarray | None = None,
    unet_px: float = 1.0,
) -> Fusion:
    """The fused mask for one RGB image (H×W×3 uint8) and the U-Net's probabilities (H×W);
    `unet_px` is how many image pixels one pixel of the U-Net's input spans (its blur scales)."""
    if p.shape != rgb.shape[:2]:
        raise ValueError(f"probabilities are {p.shape} but the image is {rgb.shape[:2]}")
    base = contour_mask(rgb, contour_params) if contour is None else contour.astype(bool)
    white = near_white(rgb, contour_params.white_threshold)
    min_area = max(1, int(params.min_region_share * white.size))
    mask = base.copy()

    holes = 0
    outside = white & ~base
    background = np.median(rgb[outside], axis=0) if outside.any() else np.full(3, 255.0)
    rgb = rgb.astype(np.float32)
    inside = (base & white).astype(np.uint8)
    core_radius = round(params.core_radius * unet_px)
    cores = cv2.erode(inside, _disk(core_radius)).astype(bool) if core_radius else inside.astype(bool)
    min_core = max(1, params.min_core * unet_px**2)
    rim_disk = _disk(max(1, round(unet_px)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=4)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < min_area:
            continue
        region = labels == label
        core = region & cores
        if core.sum() < min_core or float(p[core].mean()) >= params.hole_below:
            continue
        if np.abs(rgb[region] - background).max(axis=-1).mean() > params.background_tolerance:
            continue
        rim = cv2.dilate(region.astype(np.uint8), rim_disk).astype(bool) & base & ~white
        if rim.any() and float(p[rim].mean()) >= params.rim_above:
            mask[region] = False
            holes += 1

    added = 0
    candidate = white & _exterior(base) & (p >= 0.5)
    if candidate.any():
        core, grow = candidate.astype(np.uint8), None
        radius = round(params.halo_radius * unet_px)
        if radius:  # the blurred band hugging the outline goes; what is left is grown back
            grow = _disk(radius)
            core = cv2.morphologyEx(core, cv2.MORPH_OPEN, grow)
        touching = cv2.dilate(base.astype(np.uint8), _disk(1)).astype(bool)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=4)
        for label in range(1, count):
            if stats[label, cv2.CC_STAT_AREA] < min_area:
                continue
            region = labels == label
            if grow is not None:
                region = cv2.dilate(region.astype(np.uint8), grow).astype(bool) & candidate
            if (touching & region).any() and float(p[region].mean()) >= params.paint_above:
                mask |= region
                added += 1

    return Fusion(mask, base, holes, added, _iou(p >= 0.5, mask))
