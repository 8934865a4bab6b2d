"""Confidence scores and the gate: the released mean score saturates on easy background; the
object score (emoji with holes filled, plus a band) does not; `choose_gate` picks the score that
separates bad masks better."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from training.segmentation.confidence import (
    NOTHING_PASSES,
    RELEASED_GATE,
    Gate,
    boundary_confidence,
    calibrate_threshold,
    choose_gate,
    gate_precision,
    mask_iou,
    mean_confidence,
    object_confidence,
    percentile_confidence,
    scores,
    separation_auc,
)


def _disc(size=128, radius=40, centre=(64, 64)) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def _probabilities(mask: np.ndarray, sharpness: float = 1.0) -> np.ndarray:
    """A confident prediction of `mask`: near 0/1 away from the edge, a soft ramp across it."""
    soft = gaussian_filter(mask.astype(float), sharpness)
    return np.clip(0.001 + 0.998 * soft, 0, 1)


def test_a_wrong_hole_barely_moves_the_mean_score_but_lowers_the_object_score():
    face = _disc()
    sure = _probabilities(face)
    unsure = sure.copy()
    unsure[_disc(radius=11, centre=(50, 50))] = 0.45  # the white eye called background, unsurely
    assert mask_iou(unsure >= 0.5, face) < 0.95
    assert mean_confidence(unsure) > 0.97  # the released gate (0.99) is not far off
    object_drop = object_confidence(sure) - object_confidence(unsure)
    assert object_drop > 0.02 and object_drop > 2 * (mean_confidence(sure) - mean_confidence(unsure))
    assert boundary_confidence(unsure) < boundary_confidence(sure)
    assert percentile_confidence(unsure) < percentile_confidence(sure)
    assert set(scores(sure)) == {"mean", "object"}


def test_easy_background_saturates_the_mean_score_but_not_the_object_score():
    small = _probabilities(_disc(size=128, radius=40, centre=(64, 64)))
    padded = np.pad(small, 192, constant_values=small[0, 0])  # same emoji, more white around it
    assert mean_confidence(padded) > mean_confidence(small) + 0.005
    assert object_confidence(padded) == pytest.approx(object_confidence(small), abs=1e-6)
    assert boundary_confidence(padded) == pytest.approx(boundary_confidence(small), abs=1e-6)


def test_empty_and_full_predictions():
    assert object_confidence(np.zeros((32, 32))) == 0.0
    assert boundary_confidence(np.zeros((32, 32))) == 0.0
    assert boundary_confidence(np.ones((32, 32))) == 0.0
    assert mean_confidence(np.zeros((32, 32))) == 1.0  # why the mean alone is not enough


def test_iou():
    a, b = _disc(radius=20), _disc(radius=20, centre=(64, 70))
    assert mask_iou(a, a) == 1.0
    assert 0 < mask_iou(a, b) < 1
    assert mask_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0


def test_separation_auc_and_threshold():
    ious = [0.99, 0.98, 0.97, 0.80, 0.60]
    perfect = [0.9, 0.8, 0.85, 0.3, 0.2]
    useless = [0.3, 0.2, 0.9, 0.8, 0.85]
    assert separation_auc(perfect, ious) == 1.0
    assert separation_auc(useless, ious) < 0.5
    assert separation_auc(perfect, [0.99, 0.99, 0.99, 0.99, 0.99]) is None
    assert calibrate_threshold(perfect, ious) == 0.8  # lowest threshold with only good masks above
    assert calibrate_threshold([0.1, 0.9], [0.99, 0.5]) > 0.9  # nothing reaches the precision: none pass


def test_choose_gate_prefers_the_better_separating_score():
    ious = [0.99, 0.98, 0.97, 0.80, 0.60]
    choice = choose_gate(
        {"mean": [0.99, 0.99, 0.995, 0.992, 0.99], "object": [0.9, 0.8, 0.85, 0.3, 0.2]}, ious, min_bad=2
    )
    assert choice.gate == Gate("object", 0.8)
    assert choice.auc["object"] == 1.0 and choice.auc["mean"] < 1.0
    forced = choose_gate({"mean": [0.99, 0.99, 0.995, 0.992, 0.99], "object": [0.9] * 5}, ious, mode="mean", min_bad=2)
    assert forced.gate.score == "mean"
    assert choose_gate({"mean": [0.5] * 5}, ious, mode="released").gate == RELEASED_GATE
    with pytest.raises(ValueError, match="unknown gate mode"):
        choose_gate({"mean": [0.5] * 5}, ious, mode="median")


def test_choose_gate_without_both_kinds_of_masks():
    all_good = choose_gate({"mean": [0.99, 0.98], "object": [0.9, 0.8]}, [0.99, 0.98])
    assert all_good.gate == RELEASED_GATE
    all_bad = choose_gate({"mean": [0.99, 0.98], "object": [0.9, 0.8]}, [0.5, 0.3])
    assert all_bad.gate == NOTHING_PASSES and not all_bad.gate.passes({"mean": 1.0, "object": 1.0})
    assert choose_gate({"mean": [], "object": []}, []).gate == RELEASED_GATE


def test_a_threshold_needs_enough_bad_masks():
    rng = np.random.default_rng(0)
    good = rng.uniform(0.6, 1.0, 200)
    ious = np.where(good > 0.75, 0.98, 0.7)  # masks scoring below 0.75 are bad
    few = np.r_[np.full(195, 0.98), np.full(5, 0.7)]  # Noto validation: about 5 bad in 143+
    too_few = choose_gate({"agreement": good}, few, fuse=True)
    assert too_few.gate == Gate("mean", 0.99, fuse=True) and "only 5 bad" in too_few.reason
    assert (too_few.masks, too_few.bad) == (200, 5)
    enough = choose_gate({"agreement": good, "mean": rng.uniform(0.9, 1.0, 200)}, ious, fuse=True)
    assert enough.bad == int((good <= 0.75).sum()) >= 20
    assert enough.gate.score == "agreement" and enough.gate.fuse
    assert enough.gate.threshold == pytest.approx(float(good[good > 0.75].min()), abs=0.05)
    passed = good >= enough.gate.threshold
    assert gate_precision(passed, ious) >= 0.95
    assert gate_precision([False, False], [0.99, 0.5]) is None
