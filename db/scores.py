"""Rating aggregates per checkpoint, computed in SQL: score moments, counts per rater, agreement inputs.

Read from the per-sample aggregates that db/ratings.py keeps current (db/rating_stats.py), so a
dashboard costs the same at 10 or 10,000 ratings per sample."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import SCORE_COLUMNS, SCORE_VALUES, Checkpoint, CheckpointRaterCount, Rater, SampleRatingStats

CRITERIA = SCORE_COLUMNS  # generality, emoji_style, quality
SCALE = SCORE_VALUES


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


def score_sum(criterion: str):
    """Σ score over a sample's ratings on one criterion, from its value counts."""
    return sum(value * getattr(SampleRatingStats, f"{criterion}_{value}") for value in SCALE)


def _rated_in_run(run_id: int):
    return (
        select()
        .select_from(SampleRatingStats)
        .join(Checkpoint, Checkpoint.id == SampleRatingStats.checkpoint_id)
        .where(Checkpoint.run_id == run_id, SampleRatingStats.ratings > 0)
    )


def checkpoint_scores(session: Session, run_id: int) -> list[CheckpointScores]:
    """One row per checkpoint of the run that has ratings, in step order, aggregated in SQL:
    first a mean per sample over its raters, then moments of those means per checkpoint."""
    n = SampleRatingStats.ratings
    sums = {name: score_sum(c) for name, c in zip(("g", "s", "q"), CRITERIA, strict=True)}
    per_sample = (
        _rated_in_run(run_id)
        .add_columns(
            SampleRatingStats.checkpoint_id.label("checkpoint_id"),
            n.label("n"),
            *((total * 1.0 / n).label(name) for name, total in sums.items()),
            ((sums["g"] + sums["s"] + sums["q"]) / (3.0 * n)).label("c"),
        )
        .subquery()
    )
    columns = [Checkpoint.id, Checkpoint.step, func.sum(per_sample.c.n), func.count()]
    for name in ("g", "s", "q", "c"):
        value = per_sample.c[name]
        columns += [func.avg(value), func.avg(value * value)]
    rows = session.execute(
        select(*columns)
        .select_from(per_sample)
        .join(Checkpoint, Checkpoint.id == per_sample.c.checkpoint_id)
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
    total = func.sum(CheckpointRaterCount.ratings)
    rows = session.execute(
        select(Rater.name, total)
        .select_from(CheckpointRaterCount)
        .join(Rater, Rater.id == CheckpointRaterCount.rater_id)
        .join(Checkpoint, Checkpoint.id == CheckpointRaterCount.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .group_by(Rater.name)
        .having(total > 0)
        .order_by(Rater.name)
    ).all()
    return [(r[0], int(r[1])) for r in rows]


def score_value_counts(session: Session, run_id: int) -> dict[str, list[tuple[int, list[int]]]]:
    """Per criterion, (sample_id, [how many raters gave 1, 2, 3, 4, 5]): the input of
    Krippendorff's alpha, a row per rated sample of the run."""
    columns = [getattr(SampleRatingStats, f"{c}_{v}") for c in CRITERIA for v in SCALE]
    rows = session.execute(
        _rated_in_run(run_id).add_columns(SampleRatingStats.sample_id, *columns).order_by(SampleRatingStats.sample_id)
    ).all()
    width = len(SCALE)
    return {
        criterion: [(int(row[0]), [int(n) for n in row[1 + i * width : 1 + (i + 1) * width]]) for row in rows]
        for i, criterion in enumerate(CRITERIA)
    }
