"""The contour method on real white-interior emoji (rendered from the installed Noto font and
compared with their alpha), against the released code's classic method; its parameters."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.dataset.alpha import white_share
from training.segmentation.confidence import mask_iou
from training.segmentation.contour import ContourParams, contour_mask, released_mask


def test_white_interiors_stay_opaque(white_interior_cases):
    from PIL import Image

    for emoji, rgb, truth in white_interior_cases:
        ours = mask_iou(contour_mask(rgb), truth)
        assert ours >= 0.97, f"{emoji}: IoU {ours:.3f}"
        share = white_share(Image.fromarray(rgb), Image.fromarray(np.where(truth, 255, 0).astype(np.uint8)))
        if share >= 0.3:  # a large white interior: the released method cuts it out
            released = mask_iou(released_mask(rgb), truth)
            assert released < 0.7, f"{emoji}: released IoU {released:.3f}"
            assert ours > released + 0.25


def test_released_method_cuts_the_white_inside_an_outline():
    rgb = np.full((128, 128, 3), 255, np.uint8)
    cv2.circle(rgb, (64, 64), 40, (0, 0, 0), 4)  # a black ring around white: a plate, an eye
    truth = np.zeros((128, 128), np.uint8)
    cv2.circle(truth, (64, 64), 42, 1, -1)
    assert mask_iou(contour_mask(rgb), truth.astype(bool)) > 0.95
    assert mask_iou(released_mask(rgb), truth.astype(bool)) < 0.3


def test_speckles_are_removed():
    rgb = np.full((128, 128, 3), 255, np.uint8)
    cv2.rectangle(rgb, (30, 30), (90, 90), (200, 40, 40), -1)
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, 128, size=(40, 2)):
        if not (25 <= y <= 95 and 25 <= x <= 95):
            rgb[y, x] = (120, 120, 120)  # isolated noisy pixels in the background
    mask = contour_mask(rgb)
    assert mask[60, 60] and mask.sum() == 61 * 61
    assert contour_mask(rgb, ContourParams(min_area_share=0.0)).sum() > 61 * 61


def test_closing_bridges_a_gap_in_the_outline():
    rgb = np.full((128, 128, 3), 255, np.uint8)
    cv2.rectangle(rgb, (30, 30), (90, 90), (0, 0, 0), 2)
    rgb[58:61, 26:35] = 255  # a 3-px gap in the left edge
    closed = contour_mask(rgb, ContourParams(close_radius=3))
    assert closed[60, 60]  # the white inside is enclosed, so it stays opaque
    open_ = contour_mask(rgb, ContourParams(close_radius=0))
    assert not open_[60, 60]


def test_white_threshold_is_a_parameter():
    rgb = np.full((64, 64, 3), 255, np.uint8)
    rgb[20:40, 20:40] = 235  # very light grey square
    assert contour_mask(rgb, ContourParams(white_threshold=242))[30, 30]
    assert not contour_mask(rgb, ContourParams(white_threshold=230))[30, 30]


@pytest.mark.parametrize(
    "kwargs", [{"white_threshold": 300}, {"close_radius": -1}, {"min_area_share": 1.0}, {"smooth_radius": -2}]
)
def test_parameters_are_checked(kwargs):
    with pytest.raises(ValueError):
        ContourParams(**kwargs)


def test_blank_image_gives_an_empty_mask():
    blank = np.full((32, 32, 3), 255, np.uint8)
    assert not contour_mask(blank).any()
    assert released_mask(blank).sum() == 0
