"""Samples to make stickers from: best mean score first, with the mask that wins for each."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

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
    mask_sha256: str | None  # a person's accepted mask, else an accepted machine mask
    mask_source: str | None


def list_sticker_candidates(
    session: Session, run_id: int, checkpoint_id: int | None = None, prompt_id: int | None = None,
    min_score: float = 0.0, limit: int = 64,
) -> list[StickerCandidate]:
    """Samples to pick stickers from, best mean combined score first (from the per-sample aggregates)."""
    from db.models import Mask

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
    ids = [r[0] for r in rows]
    masks: dict[int, tuple[str, str, str]] = {}
    for sample_id, sha, source, status in session.execute(
        select(Mask.sample_id, Mask.image_sha256, Mask.source, Mask.status).where(Mask.sample_id.in_(ids)).order_by(Mask.id)
    ):
        # the latest person's decision wins; otherwise the latest accepted machine mask
        if source == "manual":
            masks[sample_id] = (sha, source, status)
        elif status == "accepted" and masks.get(sample_id, ("", "", ""))[1] != "manual":
            masks[sample_id] = (sha, source, status)
    result = []
    for r in rows:
        sha, source, status = masks.get(r[0], (None, None, None))
        usable = status == "accepted"
        result.append(StickerCandidate(r[0], r[1], r[2], int(r[3]), None if r[4] is None else float(r[4]), int(r[5]),
                                       sha if usable else None, source if usable else None))
    return result
