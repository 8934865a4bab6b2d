"""Rating aggregates per checkpoint, computed in SQL: score moments, counts per rater, agreement inputs.

Read from the per-sample aggregates that db/ratings.py keeps current (db/rating_stats.py), so a
dashboard costs the same at 10 or 10,000 ratings per sample."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.candidates import FREE_TEXT_SET
from db.models import (
    SCORE_COLUMNS,
    SCORE_VALUES,
    Checkpoint,
    CheckpointRaterCount,
    Prompt,
    PromptSet,
    Rater,
    Rating,
    Sample,
    SampleRatingStats,
)

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


def _evaluation_samples():
    """Samples of evaluation prompt sets only: generated candidates (free-text prompts of `emojich generate`
    and the bot, picked by perplexity for one checkpoint) would bias the checkpoint they belong to."""
    free_text = (
        select(Sample.id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .join(PromptSet, PromptSet.id == Prompt.set_id)
        .where(PromptSet.name == FREE_TEXT_SET)
    )
    return SampleRatingStats.sample_id.not_in(free_text)


def _evaluation_samples_of(sample_id_column):
    free_text = (
        select(Sample.id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .join(PromptSet, PromptSet.id == Prompt.set_id)
        .where(PromptSet.name == FREE_TEXT_SET)
    )
    return sample_id_column.not_in(free_text)


def _rated_in_run(run_id: int):
    return (
        select()
        .select_from(SampleRatingStats)
        .join(Checkpoint, Checkpoint.id == SampleRatingStats.checkpoint_id)
        .where(Checkpoint.run_id == run_id, SampleRatingStats.ratings > 0, _evaluation_samples())
    )


def checkpoint_scores(session: Session, run_id: int, exclude_raters: tuple[int, ...] = ()) -> list[CheckpointScores]:
    """One row per checkpoint of the run that has ratings, in step order: first a mean per sample
    over its raters (score sum S over its m ratings), then moments of those means per checkpoint.
    SQL sums whole numbers per checkpoint and m (S, S², samples); the division by m is done here,
    once per group instead of once per sample."""
    if exclude_raters:  # the recommendation without flagged raters: from the ratings themselves
        return _checkpoint_scores_without(session, run_id, tuple(exclude_raters))
    m = SampleRatingStats.ratings
    sums = [score_sum(c) for c in CRITERIA]
    sums.append(sums[0] + sums[1] + sums[2])  # combined: the sample's mean is S / (3m)
    columns = [SampleRatingStats.checkpoint_id, m, func.count()]
    for total in sums:
        columns += [func.sum(total), func.sum(total * total)]
    groups = session.execute(
        _rated_in_run(run_id).add_columns(*columns).group_by(SampleRatingStats.checkpoint_id, m)
    ).all()
    steps = dict(session.execute(select(Checkpoint.id, Checkpoint.step).where(Checkpoint.run_id == run_id)).all())
    totals: dict[int, list[float]] = {}
    for checkpoint_id, ratings, samples, *moments in groups:
        acc = totals.setdefault(checkpoint_id, [0.0] * (2 + 2 * len(sums)))
        acc[0] += ratings * samples
        acc[1] += samples
        for i in range(len(sums)):
            scale = ratings * (3 if i == len(sums) - 1 else 1)
            acc[2 + 2 * i] += float(moments[2 * i]) / scale
            acc[3 + 2 * i] += float(moments[2 * i + 1]) / scale**2
    result = []
    for checkpoint_id, acc in sorted(totals.items(), key=lambda item: steps[item[0]]):
        samples = int(acc[1])
        moments = [Moments(samples, acc[2 + 2 * i] / samples, acc[3 + 2 * i] / samples) for i in range(len(sums))]
        result.append(
            CheckpointScores(
                checkpoint_id=checkpoint_id, step=steps[checkpoint_id], ratings=int(acc[0]), samples=samples,
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


def coincidences(session: Session, run_id: int) -> dict[str, list[list[float]]]:
    """Per criterion, Krippendorff's 5×5 coincidence matrix of the run's ratings, over the samples
    with at least two ratings: o[c][k] = Σ n_c·(n_k − [c = k]) / (m − 1), with n_v how many of a
    sample's m ratings gave score v. Integer sums per m in SQL (a few rows), divided here."""
    m = SampleRatingStats.ratings
    pairs = [(a, b) for a in SCALE for b in SCALE if a <= b]
    columns = []
    for criterion in CRITERIA:
        for a, b in pairs:
            na, nb = (getattr(SampleRatingStats, f"{criterion}_{v}") for v in (a, b))
            columns.append(func.sum(na * (nb - 1) if a == b else na * nb))
    rows = session.execute(_rated_in_run(run_id).where(m >= 2).add_columns(m, *columns).group_by(m)).all()
    result, index = {}, 1
    for criterion in CRITERIA:
        matrix = [[0.0] * len(SCALE) for _ in SCALE]
        for a, b in pairs:
            value = sum(float(row[index]) / (row[0] - 1) for row in rows)
            matrix[a - 1][b - 1] = matrix[b - 1][a - 1] = value
            index += 1
        result[criterion] = matrix
    return result


def _checkpoint_scores_without(session: Session, run_id: int, exclude_raters: tuple[int, ...]) -> list[CheckpointScores]:
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
        .where(Checkpoint.run_id == run_id, Rating.rater_id.not_in(exclude_raters), _evaluation_samples_of(Rating.sample_id))
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
