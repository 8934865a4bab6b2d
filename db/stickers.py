"""Samples to make stickers from: best mean score first, with the mask that wins for each."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.masks import effective_masks
from db.models import Checkpoint, Prompt, Sample, SampleRatingStats
from db.scores import CRITERIA, score_sum


@dataclass(frozen=True)
class StickerCandidate:
    sample_id: int
    image_sha256: str
    prompt: str
    step: int
    score: float | None  # mean combined score over raters
    ratings: int
    mask_sha256: str | None  # the effective mask (db.masks) when it is accepted
    mask_source: str | None


def list_sticker_candidates(
    session: Session, run_id: int, checkpoint_id: int | None = None, prompt_id: int | None = None,
    min_score: float = 0.0, limit: int = 64,
) -> list[StickerCandidate]:
    """Samples to pick stickers from, best mean combined score first (from the per-sample aggregates)."""
    # the mean combined score, from the per-sample aggregates (db/rating_stats.py): no ratings scan
    n = SampleRatingStats.ratings
    total = sum(score_sum(c) for c in CRITERIA)
    score = case((n > 0, total / (3.0 * n)), else_=None)
    query = (
        select(Sample.id, Sample.image_sha256, Prompt.text, Checkpoint.step, score, func.coalesce(n, 0))
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .outerjoin(SampleRatingStats, SampleRatingStats.sample_id == Sample.id)
        .where(Checkpoint.run_id == run_id)
    )
    if checkpoint_id is not None:
        query = query.where(Sample.checkpoint_id == checkpoint_id)
    if prompt_id is not None:
        query = query.where(Sample.prompt_id == prompt_id)
    if min_score > 0:
        query = query.where(score >= min_score)
    rows = session.execute(query.order_by(score.desc().nulls_last(), Checkpoint.step, Prompt.position).limit(limit)).all()
    winners = effective_masks(session, [r[0] for r in rows])
    result = []
    for r in rows:
        mask = winners.get(r[0])
        usable = mask is not None and mask.usable
        result.append(StickerCandidate(r[0], r[1], r[2], int(r[3]), None if r[4] is None else float(r[4]), int(r[5]),
                                       mask.image_sha256 if usable else None, mask.source if usable else None))
    return result
