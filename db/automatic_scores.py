"""What the automatic-scores section reads: per sample, the automatic scores beside the mean ratings."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Checkpoint, Rating, Sample


@dataclass(frozen=True)
class SampleScoreRow:
    """One sample of a run: its automatic scores and its ratings averaged over raters (None: unrated)."""

    sample_id: int
    checkpoint_id: int
    step: int
    caption_loss: float | None
    perplexity: float | None
    ratings: int
    generality: float | None
    emoji_style: float | None
    quality: float | None


def run_sample_scores(session: Session, run_id: int) -> list[SampleScoreRow]:
    """Every sample of the run (step, then sample id), ratings averaged per sample in SQL."""
    per_sample = (
        select(
            Rating.sample_id.label("sample_id"),
            func.count().label("n"),
            func.avg(Rating.generality).label("g"),
            func.avg(Rating.emoji_style).label("s"),
            func.avg(Rating.quality).label("q"),
        )
        .join(Sample, Sample.id == Rating.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .group_by(Rating.sample_id)
        .subquery()
    )
    rows = session.execute(
        select(Sample.id, Checkpoint.id, Checkpoint.step, Sample.caption_loss, Sample.perplexity,
               per_sample.c.n, per_sample.c.g, per_sample.c.s, per_sample.c.q)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .outerjoin(per_sample, per_sample.c.sample_id == Sample.id)
        .where(Checkpoint.run_id == run_id)
        .order_by(Checkpoint.step, Sample.id)
    ).all()
    return [
        SampleScoreRow(r[0], r[1], int(r[2]), _float(r[3]), _float(r[4]), int(r[5] or 0), _float(r[6]), _float(r[7]),
                       _float(r[8]))
        for r in rows
    ]


def scores_version(session: Session, run_id: int) -> tuple:
    """A cheap fingerprint of what `run_sample_scores` returns (rating count and latest change, caption
    losses count and sum): a cached analysis is recomputed only when one of them moved."""
    samples = select(Sample.id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id).where(Checkpoint.run_id == run_id)
    ratings = session.execute(
        select(func.count(), func.max(Rating.updated_at)).where(Rating.sample_id.in_(samples))
    ).one()
    scored = session.execute(
        select(func.count(Sample.caption_loss), func.sum(Sample.caption_loss)).where(Sample.id.in_(samples))
    ).one()
    return tuple(None if v is None else str(v) for v in (*ratings, *scored))


def _float(value) -> float | None:
    return None if value is None else float(value)
