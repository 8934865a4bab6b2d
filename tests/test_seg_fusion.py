"""The fusion rule on synthetic cases: the contour method keeps every inked boundary; the U-Net
decides only white regions (a ring's true hole, a white sheet inside an outline, white paint
touching the outline), and its blurred edge never leaks into the mask."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from training.segmentation.confidence import RELEASED_GATE, mask_iou
from training.segmentation.contour import contour_mask
from training.segmentation.fusion import FusionParams, fuse
from training.segmentation.inference import decide
from training.segmentation.model import Gate

SIZE = 128
UNET_SIZE = 64  # the U-Net saw these images at half size: its edges are blurred over 2 px
DARK, RED, WHITE = (30, 30, 30), (210, 40, 40), (255, 255, 255)


def _canvas() -> np.ndarray:
    return np.full((SIZE, SIZE, 3), 255, np.uint8)


def _unet(truth: np.ndarray, sure: float = 0.999, blur: float = 2.0) -> np.ndarray:
    """What a U-Net that learnt `truth` would say: sure inside and out, blurred across edges."""
    p = gaussian_filter(truth.astype(float), blur)
    return np.clip((1 - sure) + (2 * sure - 1) * p, 0, 1)


def _fuse(rgb, p, contour=None, **params):
    return fuse(rgb, p, params=FusionParams(**params), contour=contour, unet_px=SIZE / UNET_SIZE)


def _ring() -> tuple[np.ndarray, np.ndarray]:
    rgb = _canvas()
    cv2.circle(rgb, (64, 64), 44, DARK, thickness=12)
    truth = (rgb != 255).any(-1)
    return rgb, truth


def test_a_ring_keeps_its_true_hole_when_the_unet_says_so():
    rgb, truth = _ring()
    contour = contour_mask(rgb)
    assert mask_iou(contour, truth) < 0.6  # the contour method fills the hole
    fused = _fuse(rgb, _unet(truth, blur=1.0))  # a U-Net sure of the hole (a wrong hole costs a whole interior)
    assert fused.holes == 1 and fused.added == 0
    assert mask_iou(fused.mask, truth) > 0.97
    assert fused.agreement > 0.9
    assert _fuse(rgb, _unet(truth)).holes == 0  # blurrier, so less sure: the contour's answer stands
    painted = rgb.copy()
    painted[~truth & contour] = 246  # off-white: paint, not the background showing through
    assert _fuse(painted, _unet(truth, blur=1.0)).holes == 0


def test_a_white_sheet_inside_an_outline_stays_opaque():
    rgb = _canvas()
    cv2.rectangle(rgb, (24, 16), (104, 112), DARK, thickness=3)
    truth = contour_mask(rgb)
    assert truth[64, 64]  # the sheet is white paint, enclosed by its outline
    for p in (_unet(truth), np.where(truth, 0.35, 0.002)):  # sure, and unsure (not below hole_below)
        fused = _fuse(rgb, p)
        assert fused.holes == 0 and np.array_equal(fused.mask, truth)


def test_white_paint_touching_the_outline_joins_the_mask():
    rgb = _canvas()
    cv2.circle(rgb, (56, 70), 34, RED, thickness=-1)
    truth = (rgb != 255).any(-1)
    cloud = np.zeros_like(truth)
    cv2.ellipse(cloud.view(np.uint8), (96, 36), (26, 18), 0, 0, 360, 1, thickness=-1)
    truth = truth | cloud  # a white cloud, no outline, touching the red disc and the background
    contour = contour_mask(rgb)
    assert not contour[36, 100] and mask_iou(contour, truth) < 0.85
    fused = _fuse(rgb, _unet(truth))
    assert fused.added == 1
    assert mask_iou(fused.mask, truth) > 0.96
    assert not (fused.mask & ~cv2.dilate(truth.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)).any()


def test_white_touching_the_image_frame_joins_too():
    rgb = _canvas()
    cv2.rectangle(rgb, (0, 40), (60, 90), RED, thickness=-1)  # the drawing runs off the left edge
    truth = (rgb != 255).any(-1)
    truth[40:91, 61:100] = True  # white paint continues it to the right, no outline
    fused = _fuse(rgb, _unet(truth))
    assert fused.added == 1 and mask_iou(fused.mask, truth) > 0.95


def test_a_hole_the_contour_method_cut_is_never_painted_back():
    rgb = _canvas()  # a fence: two posts and two bars around an opening that shows the background
    for x in (24, 96):
        cv2.rectangle(rgb, (x, 20), (x + 8, 108), DARK, thickness=-1)
    for y in (36, 80):
        cv2.rectangle(rgb, (24, y), (104, y + 10), RED, thickness=-1)
    truth = (rgb != 255).any(-1)  # the opening is transparent: what the contour method cut
    assert not truth[64, 64]
    blob = truth.copy()
    blob[36:91, 24:105] = True  # the U-Net fills the opening between the bars
    fused = _fuse(rgb, _unet(blob), contour=truth)  # a U-Net sure that the opening is paint
    assert fused.added == 0 and np.array_equal(fused.mask, truth)
    outside = truth.copy()
    outside[40:86, 105:128] = True  # white paint outside the fence, from a post to the frame: still added
    fused = _fuse(rgb, _unet(outside | blob), contour=truth)
    assert fused.added == 1 and fused.mask[60, 115] and not fused.mask[64, 64]


def test_the_unets_blurred_edge_and_unsure_white_never_get_in():
    rgb = _canvas()
    cv2.circle(rgb, (64, 64), 40, RED, thickness=-1)
    truth = (rgb != 255).any(-1)
    halo = cv2.dilate(truth.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))).astype(bool)
    blurred = _fuse(rgb, _unet(halo, blur=1.5))  # the U-Net's mask is 3 px too fat all round
    assert blurred.added == 0 and np.array_equal(blurred.mask, contour_mask(rgb))
    lump = truth.copy()
    lump[10:40, 90:120] = True  # a white lump the U-Net is only fairly sure about
    unsure = _fuse(rgb, np.where(lump & ~truth, 0.6, _unet(truth)))
    assert unsure.added == 0


def test_specks_and_tiny_white_keep_the_contour_decision():
    rgb, truth = _ring()
    rgb = _canvas()
    cv2.circle(rgb, (64, 64), 30, DARK, thickness=-1)
    cv2.circle(rgb, (64, 64), 2, WHITE, thickness=-1)  # a 5 px white dot: too small to judge
    fused = _fuse(rgb, np.where(contour_mask(rgb), 0.9, 0.01) * np.where((rgb == 255).all(-1), 0.0, 1.0))
    assert fused.holes == 0 and fused.mask[64, 64]


def test_params_are_checked():
    with pytest.raises(ValueError):
        FusionParams(hole_below=1.5)
    with pytest.raises(ValueError):
        FusionParams(halo_radius=-1)
    with pytest.raises(ValueError, match="probabilities are"):
        fuse(_canvas(), np.zeros((8, 8)))


def test_the_gate_accepts_the_fused_mask_or_queues_it_and_the_switch_falls_back_to_the_contour():
    rgb, truth = _ring()
    p = _unet(truth, blur=1.0)
    accepted = decide(rgb, p, Gate("agreement", 0.5, fuse=True), UNET_SIZE)
    assert accepted.method == "unet" and mask_iou(accepted.mask, truth) > 0.97
    assert set(accepted.scores) == {"mean", "object", "agreement"}
    refused = decide(rgb, p, Gate("agreement", 1.01, fuse=True), UNET_SIZE)
    assert refused.method == "contour"  # queued for review, with the contour mask as the suggestion
    assert np.array_equal(refused.mask, contour_mask(rgb)) and not np.array_equal(refused.mask, accepted.mask)
    # the released switch: the U-Net's whole mask (its blurred edge included) when mean ≥ 0.99
    sharp = _unet(truth, sure=0.9999, blur=0.5)
    switched = decide(rgb, sharp, RELEASED_GATE, UNET_SIZE)
    assert not RELEASED_GATE.fuse and switched.method == "unet"
    assert np.array_equal(switched.mask, sharp >= 0.5)
    below = decide(rgb, _unet(truth), RELEASED_GATE, UNET_SIZE)  # blurred: mean < 0.99
    assert below.method == "contour" and np.array_equal(below.mask, contour_mask(rgb))
