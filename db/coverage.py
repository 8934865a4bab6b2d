"""How far a run's rating has got: rated images and ratings per checkpoint, grid raters, artifact
flags, raters per image, and each rater's progress through a set of images (the overlap)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from db.models import ArtifactFlag, Checkpoint, GridRating, Rating, Sample


@dataclass(frozen=True)
class CheckpointCounts:
    checkpoint_id: int
    step: int
    samples: int
    rated: int  # samples with at least one rating
    ratings: int
    grid_raters: int
    flagged: int  # samples someone flagged as showing artifacts


def _in_run(run_id: int):
    return select(Sample.id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id).where(Checkpoint.run_id == run_id)


def checkpoint_counts(session: Session, run_id: int) -> list[CheckpointCounts]:
    """Every checkpoint of the run (rated or not), in step order."""
    base = session.execute(
        select(Checkpoint.id, Checkpoint.step, func.count(Sample.id))
        .outerjoin(Sample, Sample.checkpoint_id == Checkpoint.id)
        .where(Checkpoint.run_id == run_id).group_by(Checkpoint.id, Checkpoint.step).order_by(Checkpoint.step)
    ).all()
    per_sample = (
        select(Rating.sample_id.label("sample_id"), func.count().label("n"))
        .where(Rating.sample_id.in_(_in_run(run_id))).group_by(Rating.sample_id).subquery()
    )
    rated = {
        r[0]: (int(r[1]), int(r[2]))
        for r in session.execute(
            select(Sample.checkpoint_id, func.count(), func.sum(per_sample.c.n))
            .join(per_sample, per_sample.c.sample_id == Sample.id).group_by(Sample.checkpoint_id)
        )
    }
    grid = dict(session.execute(
        select(GridRating.checkpoint_id, func.count()).join(Checkpoint, Checkpoint.id == GridRating.checkpoint_id)
        .where(Checkpoint.run_id == run_id).group_by(GridRating.checkpoint_id)
    ).all())
    flagged = dict(session.execute(
        select(Sample.checkpoint_id, func.count(distinct(ArtifactFlag.sample_id)))
        .join(Sample, Sample.id == ArtifactFlag.sample_id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id).group_by(Sample.checkpoint_id)
    ).all())
    return [
        CheckpointCounts(int(c), int(step), int(n), *rated.get(c, (0, 0)), int(grid.get(c, 0)), int(flagged.get(c, 0)))
        for c, step, n in base
    ]


def raters_per_sample(session: Session, run_id: int) -> dict[int, int]:
    """Number of raters → how many of the run's images have that many (0 included)."""
    counts = Counter(
        int(n) for n in session.scalars(
            select(func.count()).select_from(Rating).where(Rating.sample_id.in_(_in_run(run_id))).group_by(Rating.sample_id)
        )
    )
    total = session.scalar(select(func.count()).select_from(_in_run(run_id).subquery())) or 0
    counts[0] = int(total) - sum(counts.values())
    return dict(sorted(counts.items()))


def progress_through(session: Session, sample_ids: Collection[int]) -> dict[int, int]:
    """Rater id → how many of `sample_ids` they have rated (raters with none are left out)."""
    if not sample_ids:
        return {}
    rows = session.execute(
        select(Rating.rater_id, func.count()).where(Rating.sample_id.in_(list(sample_ids))).group_by(Rating.rater_id)
    ).all()
    return {int(r[0]): int(r[1]) for r in rows}
