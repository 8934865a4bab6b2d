"""Dashboard aggregates, computed in SQL: per-checkpoint score moments, counts, agreement inputs, curves."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from db.candidates import FREE_TEXT_SET
from db.models import SCORE_COLUMNS, Checkpoint, Metric, Prompt, PromptSet, Rater, Rating, Sample

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


def _evaluation_samples():
    """Samples of evaluation prompt sets: generated candidates (free-text prompts, picked by perplexity,
    for one checkpoint) would bias the checkpoint they belong to."""
    free_text = select(Prompt.id).join(PromptSet, PromptSet.id == Prompt.set_id).where(PromptSet.name == FREE_TEXT_SET)
    return Sample.prompt_id.not_in(free_text)


def checkpoint_scores(session: Session, run_id: int) -> list[CheckpointScores]:
    """One row per checkpoint of the run that has ratings, in step order, aggregated in SQL:
    first a mean per sample over its raters, then moments of those means per checkpoint.
    Only evaluation samples count (not the free-text candidates of `emojich generate` and the bot)."""
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
        .where(Checkpoint.run_id == run_id, _evaluation_samples())
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


def metric_series(
    session: Session, run_id: int, names: tuple[str, ...] = ("loss", "lr"), max_points: int = 600
) -> list[tuple[str, int, float]]:
    """(name, step, value) per metric, thinned in SQL to about `max_points` per metric."""
    counts = dict(
        session.execute(
            select(Metric.name, func.count()).where(Metric.run_id == run_id, Metric.name.in_(names)).group_by(Metric.name)
        ).all()
    )
    if not counts:
        return []
    stride = max(1, -(-max(counts.values()) // max_points))
    numbered = (
        select(
            Metric.name, Metric.step, Metric.value,
            func.row_number().over(partition_by=Metric.name, order_by=Metric.step).label("rn"),
        )
        .where(Metric.run_id == run_id, Metric.name.in_(names))
        .subquery()
    )
    rows = session.execute(
        select(numbered.c.name, numbered.c.step, numbered.c.value)
        .where((numbered.c.rn - 1) % stride == 0)
        .order_by(numbered.c.name, numbered.c.step)
    ).all()
    return [(r[0], int(r[1]), float(r[2])) for r in rows]


@dataclass(frozen=True)
class PromptTile:
    step: int
    checkpoint_id: int
    sample_id: int
    image_sha256: str
    seed: int


def run_prompts(session: Session, run_id: int) -> list[Prompt]:
    """The prompts this run's samples were made from."""
    used = (
        select(Sample.prompt_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .distinct()
        .subquery()
    )
    return list(session.scalars(select(Prompt).where(Prompt.id.in_(select(used.c.prompt_id))).order_by(Prompt.position)))


def prompt_across_checkpoints(session: Session, run_id: int, prompt_id: int) -> list[PromptTile]:
    """One sample (lowest seed) of a prompt at every checkpoint: the report's Figure 4."""
    first_seed = (
        select(Sample.checkpoint_id, func.min(Sample.seed).label("seed"))
        .where(Sample.prompt_id == prompt_id)
        .group_by(Sample.checkpoint_id)
        .subquery()
    )
    rows = session.execute(
        select(Checkpoint.step, Checkpoint.id, Sample.id, Sample.image_sha256, Sample.seed)
        .join(Sample, Sample.checkpoint_id == Checkpoint.id)
        .join(first_seed, and_(first_seed.c.checkpoint_id == Sample.checkpoint_id, first_seed.c.seed == Sample.seed))
        .where(Checkpoint.run_id == run_id, Sample.prompt_id == prompt_id)
        .order_by(Checkpoint.step)
    ).all()
    return [PromptTile(*r) for r in rows]


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
    """Samples to pick stickers from, best mean combined score first (scores averaged in SQL)."""
    from db.models import Mask

    score = func.avg((Rating.generality + Rating.emoji_style + Rating.quality) / 3.0)
    query = (
        select(Sample.id, Sample.image_sha256, Prompt.text, Checkpoint.step, score, func.count(Rating.id))
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .outerjoin(Rating, Rating.sample_id == Sample.id)
        .where(Checkpoint.run_id == run_id)
        .group_by(Sample.id, Sample.image_sha256, Prompt.text, Prompt.position, Checkpoint.step)  # PG: all ordered-by
    )
    if checkpoint_id is not None:
        query = query.where(Sample.checkpoint_id == checkpoint_id)
    if prompt_id is not None:
        query = query.where(Sample.prompt_id == prompt_id)
    if min_score > 0:
        query = query.having(score >= min_score)
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
