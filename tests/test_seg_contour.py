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
    assert not contour_mask(rgb, ContourParams(white_threshold=230, light_paint=False))[30, 30]
    # on a flat white background, flat light paint is drawing whatever the threshold
    assert contour_mask(rgb, ContourParams(white_threshold=230))[30, 30]


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


# The report's rule, on anti-aliased shapes: alpha < 128 → pure white, alpha ≥ 128 → the colour
# composited over white. The contour method reads what that cut leaves in the pixels.
OLD = ContourParams(light_paint=False, cut_holes=False)  # the plain near-white rule


def _coverage(draw, size: int = 128, scale: int = 8) -> np.ndarray:
    """Anti-aliased coverage (0..1) of a shape that `draw(canvas, scale)` paints at `scale`× size."""
    big = np.zeros((size * scale, size * scale), np.uint8)
    draw(big, scale)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _disc(cx: float, cy: float, r: float):
    return lambda canvas, s: cv2.circle(canvas, (round(cx * s), round(cy * s)), round(r * s), 255, -1)


def _on_white(colour, alpha: np.ndarray, cut: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """RGB on white (the report's rule, or every alpha composited when not `cut`) and the truth."""
    from PIL import Image

    from training.dataset.alpha import rgba_to_rgb
    from training.segmentation.data import to_rgb_on_white

    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., :3] = np.asarray(colour, np.uint8) if np.ndim(colour) == 1 else colour
    rgba[..., 3] = np.round(alpha * 255).astype(np.uint8)
    image = Image.fromarray(rgba, "RGBA")
    rgb = np.asarray(rgba_to_rgb(image)) if cut else to_rgb_on_white(image)
    return rgb, rgba[..., 3] >= 128


def _ring(cut: bool = True, white_inside: bool = False) -> tuple[np.ndarray, np.ndarray]:
    outer, inner = _coverage(_disc(64.3, 63.6, 44)), _coverage(_disc(64.3, 63.6, 32))
    ring = np.clip(outer - inner, 0, 1)
    if not white_inside:  # a ring: its middle shows the background
        return _on_white((40, 40, 40), ring, cut)
    # an opaque disc: dark ring, white paint inside (an eye, a plate)
    colour = np.where(outer[..., None] > 0, (ring / np.maximum(outer, 1e-6))[..., None], 0)
    colour = np.round(colour * 40 + (1 - colour) * 255).astype(np.uint8)
    return _on_white(colour, outer, cut)


def test_light_grey_paint_is_kept():
    rgb, truth = _on_white((246, 246, 246), _coverage(_disc(64.4, 63.7, 40)))  # a pale cloud, a page
    assert mask_iou(contour_mask(rgb, OLD), truth) < 0.05  # every pixel is near-white: all cut away
    assert mask_iou(contour_mask(rgb), truth) > 0.99


def test_the_rim_of_light_ink_is_kept():
    rgb, truth = _on_white((236, 236, 236), _coverage(_disc(64.4, 63.7, 40)))
    old, new = contour_mask(rgb, OLD), contour_mask(rgb)
    assert (truth & ~old).sum() > 30  # its anti-aliased rim at alpha 128-170 is near-white
    assert np.array_equal(new, truth)


def test_a_ring_drawn_with_the_alpha_cut_keeps_its_hole():
    rgb, truth = _ring()
    assert mask_iou(contour_mask(rgb, OLD), truth) < 0.6  # the plain rule fills it
    assert mask_iou(contour_mask(rgb), truth) > 0.98
    assert mask_iou(contour_mask(rgb, ContourParams(cut_holes=False)), truth) < 0.6


def test_white_paint_inside_an_outline_stays_opaque():
    rgb, truth = _ring(white_inside=True)  # the ink's ramp runs all the way to white: paint, not a hole
    assert truth[64, 64]
    assert mask_iou(contour_mask(rgb), truth) > 0.98


def test_without_the_alpha_cut_holes_stay_filled():
    rgb, truth = _ring(cut=False)  # every alpha composited: no cut to read, so no hole is claimed
    mask = contour_mask(rgb)
    assert mask[64, 64]
    assert np.array_equal(mask, contour_mask(rgb, ContourParams(cut_holes=False)))


@pytest.mark.parametrize("degrade", ["noise", "jpeg"])
def test_a_noisy_background_gets_the_plain_rule(degrade):
    from io import BytesIO

    from PIL import Image

    rgb, truth = _ring()
    if degrade == "noise":  # a generator's output: the background is not one colour
        rng = np.random.default_rng(0)
        rgb = np.clip(rgb + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
    else:  # JPEG: the frame stays pure white, the ringing next to the drawing gives it away
        buffer = BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
        rgb = np.asarray(Image.open(buffer).convert("RGB"))
    assert np.array_equal(contour_mask(rgb), contour_mask(rgb, OLD))


@pytest.mark.parametrize(
    "kwargs", [{"flat_noise": -1}, {"hole_light_share": 1.0}, {"hole_evidence": 0}, {"hole_levels": 10}]
)
def test_refinement_parameters_are_checked(kwargs):
    with pytest.raises(ValueError):
        ContourParams(**kwargs)
