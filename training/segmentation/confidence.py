"""How sure the U-Net is about one mask, and which score should gate the contour fallback.

`p` is the per-pixel probability of "opaque" (H×W, floats in 0..1); the per-pixel confidence is
max(p, 1 − p), the probability of the class the mask chose.

- `mean_confidence`: the released code's score, the mean over all pixels. An emoji covers well
  under half of a 256 px image and its white background is easy, so this score sits near 1 even
  when a whole eye or the inside of a sheet of paper is wrong.
- `object_confidence` (the second score we store): the mean over the predicted emoji with its
  holes filled plus a band around its boundary, i.e. everything but the far background. Easy
  background cannot saturate it, and a wrongly cut-out eye (a hole) still counts.
- `boundary_confidence` (a band around the predicted boundary only) and `percentile_confidence`
  were measured too (bench/bench_segment.py): the band alone separates bad masks worst, since
  soft anti-aliased edges dominate it and it misses unsure interiors.

- `agreement` (fusion.py): IoU between the U-Net's own mask and the fused mask; low when the U-Net
  and the contour outline disagree beyond the white regions the U-Net decided.

`choose_gate` measures on calibration masks (validation plus style-augmented copies, see
calibration.py: Noto's validation split alone has about 5 bad masks, too few to place a
threshold) which score better separates bad masks (IoU < 0.95) from good ones (ROC AUC, through
scipy's Mann–Whitney U) and calibrates its threshold; with fewer than `MIN_BAD` bad masks it
does not guess a threshold and falls back to the released one.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import binary_fill_holes
from scipy.stats import mannwhitneyu


@dataclass(frozen=True)
class Gate:
    """Which confidence score accepts a U-Net-decided mask (else the contour fallback), its
    threshold, and whether the U-Net only decides white regions of the contour mask (fuse, see
    fusion.py) or replaces it whole (the released switch)."""

    score: str = "mean"  # "mean" (the released code's), "object" or "agreement" (see confidence.py)
    threshold: float = 0.99
    fuse: bool = False

    def passes(self, scores: dict[str, float]) -> bool:
        return scores[self.score] >= self.threshold

    def describe(self) -> str:
        return f"{'fuse' if self.fuse else 'switch'}:{self.score}>={self.threshold:.4f}"


RELEASED_GATE = Gate("mean", 0.99)  # the report's rule: the U-Net's whole mask when mean ≥ 0.99
NOTHING_PASSES = Gate("mean", 1.01)  # when every validation mask is bad
MIN_BAD = 20  # fewer bad calibration masks than this cannot place a threshold
BAD_IOU = 0.95
BOUNDARY_BAND = 3  # pixels each side of the predicted boundary
TARGET_PRECISION = 0.95  # of masks passing the gate, at least this share should be good
GATE_MODES = ("auto", "mean", "object", "agreement", "released")  # `emojich segment round --gate`


def pixel_confidence(p: np.ndarray) -> np.ndarray:
    return np.maximum(p, 1.0 - p)


def mean_confidence(p: np.ndarray) -> float:
    return float(pixel_confidence(p).mean())


def boundary_band(mask: np.ndarray, band: int = BOUNDARY_BAND) -> np.ndarray:
    """Pixels within `band` of the boundary of a boolean mask."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m = mask.astype(np.uint8)
    return cv2.dilate(m, kernel).astype(bool) & ~cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE).astype(bool)


def boundary_confidence(p: np.ndarray, band: int = BOUNDARY_BAND) -> float:
    """Mean confidence near the predicted boundary; 0.0 when the mask has no boundary at all
    (an empty or full mask is never a usable emoji mask)."""
    ring = boundary_band(p >= 0.5, band)
    if not ring.any():
        return 0.0
    return float(pixel_confidence(p)[ring].mean())


def object_confidence(p: np.ndarray, band: int = BOUNDARY_BAND) -> float:
    """Mean confidence over the predicted emoji, its holes filled, plus a band around it;
    0.0 for an empty prediction."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    filled = binary_fill_holes(p >= 0.5)
    if not filled.any():
        return 0.0
    region = cv2.dilate(filled.astype(np.uint8), kernel).astype(bool)
    return float(pixel_confidence(p)[region].mean())


def percentile_confidence(p: np.ndarray, q: float = 1.0) -> float:
    return float(np.percentile(pixel_confidence(p), q))


def scores(p: np.ndarray) -> dict[str, float]:
    """The two scores stored with every U-Net mask (the masks table keeps "object" in its
    confidence_object column)."""
    return {"mean": mean_confidence(p), "object": object_confidence(p)}


def mask_iou(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = pred.astype(bool), truth.astype(bool)
    union = np.logical_or(pred, truth).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, truth).sum() / union)


def separation_auc(values: Sequence[float], ious: Sequence[float], bad_below: float = BAD_IOU) -> float | None:
    """ROC AUC of `values` for telling good masks (IoU ≥ bad_below) from bad ones:
    P(score of a good mask > score of a bad one). None when one of the groups is empty."""
    values, ious = np.asarray(values, float), np.asarray(ious, float)
    good, bad = values[ious >= bad_below], values[ious < bad_below]
    if len(good) == 0 or len(bad) == 0:
        return None
    u = mannwhitneyu(good, bad, alternative="two-sided").statistic
    return float(u / (len(good) * len(bad)))


def calibrate_threshold(
    values: Sequence[float], ious: Sequence[float], target_precision: float = TARGET_PRECISION,
    bad_below: float = BAD_IOU,
) -> float:
    """The lowest threshold at which the masks passing it are at least `target_precision` good
    (so as many good masks as possible pass); above every value when none reaches it."""
    values, good = np.asarray(values, float), np.asarray(ious, float) >= bad_below
    best = float(np.nextafter(values.max(), np.inf))
    for t in np.unique(values)[::-1]:  # from strict to lenient
        passing = values >= t
        if good[passing].mean() >= target_precision:
            best = float(t)
    return best


@dataclass(frozen=True)
class GateChoice:
    gate: Gate
    auc: dict[str, float | None]
    reason: str
    masks: int = 0  # calibration masks measured
    bad: int = 0  # of which bad (IoU < BAD_IOU)


def choose_gate(
    val_scores: Mapping[str, Sequence[float]], ious: Sequence[float], *, mode: str = "auto",
    target_precision: float = TARGET_PRECISION, min_bad: int = MIN_BAD, fuse: bool = False,
) -> GateChoice:
    """Pick the score that better separates bad masks from good and calibrate its threshold.

    mode "auto" picks by AUC; a score's name forces that score (still calibrated); "released" is
    the released rule (the U-Net's whole mask when mean ≥ 0.99). `fuse` says whether the masks
    measured are fused ones (the gate then accepts fused masks). With fewer than `min_bad` bad
    masks no threshold is placed: the released threshold (mean ≥ 0.99) is kept; with no good
    mask at all nothing passes.
    """
    auc = {name: separation_auc(v, ious) for name, v in val_scores.items()}
    n, bad = len(ious), int(sum(i < BAD_IOU for i in ious))
    if mode == "released":
        return GateChoice(RELEASED_GATE, auc, "released rule requested", n, bad)
    if mode != "auto" and mode not in val_scores:
        raise ValueError(f"unknown gate mode {mode!r}; expected auto, released or one of {sorted(val_scores)}")
    if n and bad == n:
        return GateChoice(NOTHING_PASSES, auc, "every calibration mask is bad: nothing is accepted", n, bad)
    if bad < max(min_bad, 1):
        fallback = Gate(RELEASED_GATE.score, RELEASED_GATE.threshold, fuse)
        return GateChoice(
            fallback, auc, f"only {bad} bad calibration masks (< {min_bad}): released threshold kept", n, bad
        )
    measurable = {name: a for name, a in auc.items() if a is not None}  # both kinds present: all measurable
    name = max(measurable, key=lambda k: (measurable[k], k != "mean")) if mode == "auto" else mode
    threshold = calibrate_threshold(val_scores[name], ious, target_precision)
    return GateChoice(Gate(name, threshold, fuse), auc, f"AUC {name} {auc[name]:.3f}, {bad} of {n} bad", n, bad)


def gate_precision(passed: Sequence[bool], ious: Sequence[float], bad_below: float = BAD_IOU) -> float | None:
    """Share of the masks passing the gate that are good; None when none passes."""
    passed, good = np.asarray(passed, bool), np.asarray(ious, float) >= bad_below
    return float(good[passed].mean()) if passed.any() else None
