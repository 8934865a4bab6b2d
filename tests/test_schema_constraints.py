"""Constraints that protect the data, on the real migrated schema."""
from __future__ import annotations

import pytest
from PIL import Image as PILImage
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from db.engine import write_session
from db.models import Checkpoint, Comparison, Decision, Image, Mask, Rater, Rating, Run, Sample
from db.runs import add_run
from db.samples import NewSample, add_checkpoint_with_samples, ensure_prompt_set


def _chain(engine, n_samples=2):
    """run → checkpoint → samples (with images) and one rater; returns their ids."""
    with write_session(engine) as s:
        run = add_run(s, "run", {"lr": 1e-5})
        prompts = ensure_prompt_set(s, "eval", [f"prompt {i}" for i in range(n_samples)]).prompts
        batch = [
            NewSample(prompt_id=p.id, seed=42, image=PILImage.new("RGB", (8, 8), (i * 40, 0, 0)))
            for i, p in enumerate(prompts)
        ]
        ckpt = add_checkpoint_with_samples(s, run.id, 0, 0.0, None, batch)
        rater = Rater(name="ann", token_hash="x")
        s.add(rater)
        s.flush()
        sample_ids = [x.id for x in s.scalars(select(Sample).order_by(Sample.id))]
        return run.id, ckpt.id, sample_ids, rater.id, [p.id for p in prompts]


def _rate(engine, rater_id, sample_id, **scores):
    values = {"generality": 3, "emoji_style": 3, "quality": 3} | scores
    with write_session(engine) as s:
        s.add(Rating(rater_id=rater_id, sample_id=sample_id, **values))


@pytest.mark.parametrize("column", ["generality", "emoji_style", "quality"])
@pytest.mark.parametrize("value", [0, 6, -1])
def test_scores_outside_1_to_5_are_refused(engine, column, value):
    _, _, samples, rater, _ = _chain(engine)
    with pytest.raises(IntegrityError, match=f"ratings_{column}_ck|CHECK"):
        _rate(engine, rater, samples[0], **{column: value})


def test_scores_1_and_5_are_accepted(engine):
    _, _, samples, rater, _ = _chain(engine)
    _rate(engine, rater, samples[0], generality=1, emoji_style=5, quality=1)
    with write_session(engine) as s:
        stored = s.execute(select(Rating.generality, Rating.emoji_style, Rating.quality)).all()
    assert stored == [(1, 5, 1)]


def test_duplicate_rating_is_refused(engine):
    _, _, samples, rater, _ = _chain(engine)
    _rate(engine, rater, samples[0])
    with pytest.raises(IntegrityError, match="UNIQUE|unique"):
        _rate(engine, rater, samples[0])


def test_one_sample_per_checkpoint_prompt_and_seed(engine):
    run, _, _, _, prompts = _chain(engine)
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            img = PILImage.new("RGB", (8, 8), "white")
            add_checkpoint_with_samples(
                s, run, 6000, 1.0, None,
                [NewSample(prompt_id=prompts[0], seed=42, image=img)] * 2,
            )


def test_duplicate_checkpoint_step_is_refused(engine):
    run, _, _, _, _ = _chain(engine)
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Checkpoint(run_id=run, step=0, epoch=0.0))


def test_comparison_winner_and_distinct_samples(engine):
    _, _, samples, rater, prompts = _chain(engine)
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Comparison(rater_id=rater, prompt_id=prompts[0], sample_a=samples[0], sample_b=samples[1], winner="x"))
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Comparison(rater_id=rater, prompt_id=prompts[0], sample_a=samples[0], sample_b=samples[0], winner="a"))


def test_mask_belongs_to_exactly_one_subject(engine):
    _, _, samples, _, _ = _chain(engine)
    with write_session(engine) as s:
        sha = s.scalar(select(Sample.image_sha256).where(Sample.id == samples[0]))
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Mask(image_sha256=sha, source="manual", status="accepted"))
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Mask(sample_id=samples[0], image_sha256=sha, source="painted", status="accepted"))


def test_on_delete_behaviour(engine):
    run, ckpt, samples, rater, _ = _chain(engine)
    _rate(engine, rater, samples[0])
    # A rater with ratings cannot be deleted: human work is never dropped silently.
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.execute(delete(Rater).where(Rater.id == rater))
    # A chosen checkpoint cannot be deleted on its own...
    with write_session(engine) as s:
        s.add(Decision(run_id=run, checkpoint_id=ckpt, rater_id=rater, reason="best style"))
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.execute(delete(Checkpoint).where(Checkpoint.id == ckpt))
    # ...but deleting the run removes checkpoints, samples, ratings and decisions together,
    # and leaves the images (shared, content-addressed) in place.
    with write_session(engine) as s:
        s.execute(delete(Run).where(Run.id == run))
    with write_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Sample)) == 0
        assert s.scalar(select(func.count()).select_from(Rating)) == 0
        assert s.scalar(select(func.count()).select_from(Decision)) == 0
        assert s.scalar(select(func.count()).select_from(Image)) == 2


def test_image_in_use_cannot_be_deleted(engine):
    _chain(engine)
    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.execute(delete(Image))


def test_a_prompt_set_name_keeps_its_prompts(engine):
    from db.errors import EmojichError

    with write_session(engine) as s:
        first = ensure_prompt_set(s, "eval", ["кот", "пёс"]).id
    with write_session(engine) as s:
        assert ensure_prompt_set(s, "eval", ["кот", "пёс"]).id == first
    with pytest.raises(EmojichError, match="already exists with different prompts"):
        with write_session(engine) as s:
            ensure_prompt_set(s, "eval", ["кот", "сова"])
