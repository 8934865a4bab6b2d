"""The gate is calibrated on data with enough bad masks: validation plus style-augmented copies
(masks kept aligned), scored through the same pipeline `segment` runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.segmentation.calibration import augmented_copies, calibration_set
from training.segmentation.confidence import BAD_IOU, calibrate_threshold, choose_gate, gate_precision
from training.segmentation.inference import decide, predict_probabilities
from training.segmentation.model import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_augmented_copies_keep_masks_aligned(tiny_pairs):
    rgbs, truths = tiny_pairs.split("val")
    copies, copy_truths = augmented_copies(rgbs, truths, torch.Generator().manual_seed(0))
    assert len(copies) == len(rgbs)
    for rgb, truth, original in zip(copies, copy_truths, rgbs, strict=True):
        assert rgb.shape == original.shape and rgb.dtype == np.uint8 and truth.shape == original.shape[:2]
        assert truth.any() and rgb[~truth].mean() > 240  # the background stays white


def test_calibration_adds_copies_until_enough_masks_are_bad(small_unet, tiny_pairs):
    model = load_model(small_unet)
    rgbs, truths = tiny_pairs.split("val")
    plain = calibration_set(model.model, 64, rgbs, truths, max_copies=0)
    assert plain.copies == 0 and len(plain.ious) == len(rgbs)
    wanted = plain.bad + 3
    calibration = calibration_set(model.model, 64, rgbs, truths, min_bad=wanted, max_copies=6)
    assert calibration.copies >= 1 and len(calibration.ious) == len(rgbs) * (calibration.copies + 1)
    assert calibration.bad >= wanted or calibration.copies == 6
    assert calibration.ious[: len(rgbs)] == plain.ious  # the validation masks come first, unchanged
    assert set(calibration.scores) == {"mean", "object", "agreement"}

    choice = choose_gate(calibration.scores, calibration.ious, fuse=True, min_bad=calibration.bad)
    assert choice.bad == calibration.bad and choice.masks == len(calibration.ious) and choice.gate.fuse
    values = calibration.scores[choice.gate.score]
    assert choice.gate.threshold == calibrate_threshold(values, calibration.ious)
    passed = np.asarray(values) >= choice.gate.threshold
    precision = gate_precision(passed, calibration.ious)
    assert precision is None or precision >= 0.95  # none passes, or the accepted are ≥ 95 % good


def test_calibration_scores_the_masks_segment_would_accept(small_unet, tiny_pairs):
    model = load_model(small_unet)
    rgbs, truths = tiny_pairs.split("val")
    calibration = calibration_set(model.model, 64, rgbs[:4], truths[:4], max_copies=0)
    from training.segmentation.confidence import mask_iou
    from training.segmentation.model import Gate

    everything = Gate("agreement", 0.0, fuse=True)
    probs = predict_probabilities(model.model, 64, rgbs[:4])
    for i, (rgb, truth, p) in enumerate(zip(rgbs[:4], truths[:4], probs, strict=True)):
        result = decide(rgb, p, everything, 64)
        assert result.scores["agreement"] == pytest.approx(calibration.scores["agreement"][i])
        if result.method == "unet":
            assert mask_iou(result.mask, truth) == pytest.approx(calibration.ious[i])
    assert all(0.0 <= i <= 1.0 for i in calibration.ious) and BAD_IOU == 0.95
