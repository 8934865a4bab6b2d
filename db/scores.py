"""Rating aggregates per checkpoint, computed in SQL: score moments, counts per rater, agreement inputs."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.models import SCORE_COLUMNS, Checkpoint, Rater, Rating, Sample

CRITERIA = SCORE_COLUMNS  # generality, emoji_style, quality
SCALE = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Moments:
    """Enough to get a mean, a standard deviation and an interval: n, mean and mean of squares."""

    n: int
    mean: float
    mean_sq: float


@dataclass(frozen=True)
class CheckpointScores:
    """Per checkpoint: the moments of the per-sample mean scores (samples are the units: raters
    of one sample are not independent), and the number of ratings behind them."""

    checkpoint_id: int
    step: int
    ratings: int
    samples: int
    by_criterion: dict[str, Moments]
    combined: Moments  # of the mean of the three criteria


def checkpoint_scores(session: Session, run_id: int, exclude_raters: tuple[int, ...] = ()) -> list[CheckpointScores]:
    """One row per checkpoint of the run that has ratings, in step order, aggregated in SQL:
    first a mean per sample over its raters, then moments of those means per checkpoint.
    `exclude_raters`: leave these raters' ratings out (the recommendation without flagged raters)."""
    g, s, q = (getattr(Rating, c) for c in CRITERIA)
    per_sample = (
        select(
            Rating.sample_id.label("sample_id"),
            func.count().label("n"),
            *(func.avg(v).label(c) for v, c in ((g, "g"), (s, "s"), (q, "q"))),
            (func.avg(g + s + q) / 3.0).label("c"),
        )
        .join(Sample, Sample.id == Rating.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id, Rating.rater_id.not_in(exclude_raters))
        .group_by(Rating.sample_id)
        .subquery()
    )
    columns = [Checkpoint.id, Checkpoint.step, func.sum(per_sample.c.n), func.count()]
    for name in ("g", "s", "q", "c"):
        value = per_sample.c[name]
        columns += [func.avg(value), func.avg(value * value)]
    rows = session.execute(
        select(*columns)
        .select_from(per_sample)
        .join(Sample, Sample.id == per_sample.c.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .group_by(Checkpoint.id, Checkpoint.step)
        .order_by(Checkpoint.step)
    ).all()
    result = []
    for row in rows:
        samples = int(row[3])
        moments = [Moments(samples, float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(4)]
        result.append(
            CheckpointScores(
                checkpoint_id=row[0], step=row[1], ratings=int(row[2]), samples=samples,
                by_criterion=dict(zip(CRITERIA, moments[:3], strict=True)), combined=moments[3],
            )
        )
    return result


def ratings_per_rater(session: Session, run_id: int) -> list[tuple[str, int]]:
    rows = session.execute(
        select(Rater.name, func.count())
        .select_from(Rating)
        .join(Rater, Rater.id == Rating.rater_id)
        .join(Sample, Sample.id == Rating.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .group_by(Rater.name)
        .order_by(Rater.name)
    ).all()
    return [(r[0], int(r[1])) for r in rows]


def score_value_counts(session: Session, run_id: int) -> dict[str, list[tuple[int, list[int]]]]:
    """Per criterion, (sample_id, [how many raters gave 1, 2, 3, 4, 5]): the input of
    Krippendorff's alpha. One grouped pass in SQL (counts pivoted per score), a row per sample."""
    columns = [Rating.sample_id]
    for criterion in CRITERIA:
        column = getattr(Rating, criterion)
        columns += [func.sum(case((column == value, 1), else_=0)) for value in SCALE]
    rows = session.execute(
        select(*columns)
        .join(Sample, Sample.id == Rating.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .group_by(Rating.sample_id)
        .order_by(Rating.sample_id)
    ).all()
    width = len(SCALE)
    return {
        criterion: [(int(row[0]), [int(n) for n in row[1 + i * width : 1 + (i + 1) * width]]) for row in rows]
        for i, criterion in enumerate(CRITERIA)
    }
