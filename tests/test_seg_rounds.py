"""Pseudo-labelling rounds against a temp DB: pseudo-labels and review-queue rows appear, round
metrics are recorded, a person's fixes feed the next round, both gate paths are taken."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from db.engine import read_session, write_session
from db.masks import (
    BadMask,
    accept_manual_mask,
    count_masks,
    count_review_queue,
    list_masks_for_sample,
    list_review_queue,
    reject_sample_mask,
)
from db.segmentation import (
    count_round_masks,
    count_undecided_samples,
    latest_model_path,
    list_segmentation_rounds,
    list_training_masks,
    list_undecided_samples,
    list_validation_masks,
)
from training.segmentation.confidence import NOTHING_PASSES
from training.segmentation.inference import segment
from training.segmentation.model import Gate, load_model
from training.segmentation.rounds import NoTrainingData, run_round

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"encoder": "resnet18", "image_size": 64, "epochs": 1, "batch_size": 16}
EVERYTHING_PASSES = Gate("mean", 0.0)


def test_a_round_needs_training_masks(engine, tmp_path):
    with pytest.raises(NoTrainingData, match="emojich dataset build"):
        run_round(engine, tmp_path, **SMALL)


def test_training_and_validation_masks_come_from_the_masks_table(engine, tiny_dataset):
    with read_session(engine) as session:
        train, val = list_training_masks(session), list_validation_masks(session)
    assert len(train) + len(val) == tiny_dataset.items
    assert len(val) == 10 and all(m.for_validation and m.source == "ground_truth" for m in val)
    assert all(m.dataset == tiny_dataset.name and m.file.endswith(".png") for m in train)


def test_rounds_queue_then_pseudo_label_with_fixes_in_between(
    engine, seg_home, tiny_dataset, generated_samples, seg_rater
):
    home = seg_home
    n_train = tiny_dataset.items - 10
    samples = generated_samples.sample_ids
    # round 1: a gate nothing passes → every sample is queued with the contour suggestion
    first = run_round(engine, home, fixed_gate=NOTHING_PASSES, **SMALL)
    assert (first.round, first.predicted, first.accepted, first.queued) == (1, len(samples), 0, len(samples))
    assert first.model_path == home / "models" / "segmentation" / "round_1.pt" and first.model_path.is_file()
    with read_session(engine) as session:
        (row,) = list_segmentation_rounds(session)
        assert (row.round, row.encoder, row.train_size, row.val_size) == (1, "resnet18", n_train, 10)
        assert 0.0 <= row.val_iou <= 1.0 and 0.0 <= row.val_dice <= 1.0
        assert row.share_accepted == 0.0 and row.gate == "switch:mean>=1.0100" and not row.plateau
        assert row.model_path == "models/segmentation/round_1.pt" == latest_model_path(session)  # relative to home
        assert count_round_masks(session, 1) == {"contour": len(samples)}
        queue = list_review_queue(session, limit=100)
        assert count_review_queue(session) == len(samples)
    assert {q.sample_id for q in queue} == set(samples)
    assert all(q.source == "contour" and q.status == "needs_review" and q.round == 1 for q in queue)
    assert all(q.confidence_mean is not None and q.confidence_object is not None for q in queue)
    ordered = [(q.confidence_object, q.confidence_mean) for q in queue]
    assert ordered == sorted(ordered)  # least confident first

    # a person fixes one sample (for validation), accepts another, rejects a third
    fixed, accepted, rejected = queue[0].sample_id, queue[1].sample_id, queue[2].sample_id
    with write_session(engine) as session:
        square = Image.new("L", (64, 64), 0)
        square.paste(255, (10, 10, 50, 50))
        accept_manual_mask(session, fixed, square, seg_rater, for_validation=True)
        suggestion = Image.new("L", (64, 64), 0)
        suggestion.paste(255, (4, 4, 60, 60))
        accept_manual_mask(session, accepted, suggestion, seg_rater)
        reject_sample_mask(session, rejected, seg_rater)
        with pytest.raises(BadMask, match="empty"):
            accept_manual_mask(session, accepted, Image.new("L", (64, 64), 0), seg_rater)
        with pytest.raises(BadMask, match="64×64"):
            accept_manual_mask(session, accepted, Image.new("L", (32, 32), 255), seg_rater)
    with read_session(engine) as session:
        assert count_undecided_samples(session) == len(samples) - 3
        assert {m.sample_id for m in list_validation_masks(session) if m.sample_id} == {fixed}
        assert {m.sample_id for m in list_training_masks(session) if m.sample_id} == {accepted}
        assert count_review_queue(session) == len(samples) - 3

    # round 2 continues from round 1; a gate everything passes → pseudo-labels for the rest
    second = run_round(engine, home, fixed_gate=EVERYTHING_PASSES, **SMALL)
    assert second.started_from == str(first.model_path)
    assert (second.train_size, second.val_size) == (n_train + 1, 11)
    assert (second.predicted, second.accepted, second.queued) == (len(samples) - 3, len(samples) - 3, 0)
    with read_session(engine) as session:
        rounds = list_segmentation_rounds(session)
        assert [r.round for r in rounds] == [1, 2] and rounds[1].share_accepted == 1.0
        assert rounds[1].plateau == (rounds[1].val_iou - rounds[0].val_iou < 0.002)
        assert count_masks(session, source="unet", status="accepted", round=2) == len(samples) - 3
        assert list_undecided_samples(session) == []
        # the queue now offers the pseudo-labels for spot checks, none needs review
        assert count_review_queue(session) == 0
        spot = list_review_queue(session, limit=100)
        assert {q.sample_id for q in spot} == set(samples) - {fixed, accepted, rejected}
        assert all(q.source == "unet" and q.status == "accepted" for q in spot)
        assert list_review_queue(session, limit=100, include_accepted=False) == []
        history = list_masks_for_sample(session, rejected)
        assert [(m.source, m.status) for m in history] == [("contour", "needs_review"), ("manual", "rejected")]
    assert "round 2" in second.summary() and "pseudo-labels" in second.summary()


def test_both_gate_paths_with_a_trained_model(small_unet, tiny_pairs):
    rgbs, truths = tiny_pairs.split("val")
    model = load_model(small_unet)
    model.gate = EVERYTHING_PASSES
    confident = segment(rgbs, model)
    assert {s.method for s in confident if s.unet_mask.any()} == {"unet"}
    assert all(np.array_equal(s.mask, s.unet_mask) for s in confident if s.method == "unet")
    model.gate = NOTHING_PASSES
    unsure = segment(rgbs, model)
    assert {s.method for s in unsure} == {"contour"}
    for s, truth in zip(unsure, truths, strict=True):
        assert s.confidence_mean is not None and s.confidence_object is not None
        assert s.mask.shape == truth.shape
    assert all(s.method == "contour" and s.confidence_mean is None for s in segment(rgbs[:2], None))
    # fusing gates: the same fused mask whether accepted or queued, never the U-Net's whole mask
    model.gate = Gate("agreement", 0.0, fuse=True)
    fused = segment(rgbs, model)
    model.gate = Gate("agreement", 1.01, fuse=True)
    queued = segment(rgbs, model)
    assert {s.method for s in queued} == {"contour"}
    for a, b in zip(fused, queued, strict=True):
        assert a.method == "unet" and np.array_equal(a.mask, b.mask)
        assert a.scores["agreement"] == b.scores["agreement"]


def test_cli_round_and_bad_encoder(seg_home, capsys):
    from workbench.cli import main

    assert main(["segment", "round", "--encoder", "resnet18", "--epochs", "1", "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "round 1: resnet18 from scratch" in out and "validation 10: IoU" in out
    assert main(["segment", "round", "--encoder", "resnet-9000"]) == 2
    err = capsys.readouterr().err
    assert "unknown encoder 'resnet-9000'" in err and "efficientnet-b7" in err
