"""Rating aggregates kept current at write time: per sample, how many ratings gave each score on
each criterion (`sample_rating_stats`), and ratings per checkpoint and rater (`checkpoint_rater_counts`).

db/ratings.py calls `record_change` in the transaction of every save, edit, flag and undo, after
locking the sample row (so two writers of one sample apply their changes one after the other);
nothing else writes ratings except bulk loaders (fixtures, benchmarks), which call `rebuild`.
The dashboard (db/scores.py, db/stickers.py) reads only these tables: its cost grows with the
number of samples, not of ratings.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from db.models import SCORE_COLUMNS, SCORE_VALUES, CheckpointRaterCount, Rating, Sample, SampleRatingStats
from db.upsert import conflict_insert

COUNT_COLUMNS = tuple(f"{c}_{v}" for c in SCORE_COLUMNS for v in SCORE_VALUES)
ScoreTuple = tuple[int, int, int]  # generality, emoji style, quality


def _counts(scores: ScoreTuple | None) -> Counter:
    if scores is None:
        return Counter()
    return Counter(f"{c}_{v}" for c, v in zip(SCORE_COLUMNS, scores, strict=True))


def record_change(
    session: Session, *, sample_id: int, checkpoint_id: int, rater_id: int,
    old: ScoreTuple | None, new: ScoreTuple | None,
) -> None:
    """Apply one rating's change (None: no rating) to the aggregates, in the caller's transaction.
    The caller holds the sample row's lock (db/ratings.py `_lock_sample`)."""
    if old == new:
        return
    delta = _counts(new)
    delta.subtract(_counts(old))
    changed = {column: n for column, n in delta.items() if n}
    d_ratings = (new is not None) - (old is not None)
    stats = SampleRatingStats.__table__.c
    if new is not None:  # a new or edited rating: the row may not exist yet (first rating of the sample)
        values = {"sample_id": sample_id, "checkpoint_id": checkpoint_id, "ratings": d_ratings,
                  **{column: changed.get(column, 0) for column in COUNT_COLUMNS}}
        additive = {name: stats[name] + n for name, n in (("ratings", d_ratings), *changed.items()) if n}
        stmt = conflict_insert(session, SampleRatingStats).values(**values)
        session.execute(stmt.on_conflict_do_update(index_elements=["sample_id"], set_=additive) if additive
                        else stmt.on_conflict_do_nothing(index_elements=["sample_id"]))
    else:  # undo: the row exists (it counted this rating)
        session.execute(
            update(SampleRatingStats).where(SampleRatingStats.sample_id == sample_id)
            .values({stats[name]: stats[name] + n for name, n in (("ratings", d_ratings), *changed.items())})
        )
    if d_ratings > 0:
        counts = CheckpointRaterCount.__table__.c
        session.execute(
            conflict_insert(session, CheckpointRaterCount)
            .values(checkpoint_id=checkpoint_id, rater_id=rater_id, ratings=1)
            .on_conflict_do_update(index_elements=["checkpoint_id", "rater_id"], set_={"ratings": counts.ratings + 1})
        )
    elif d_ratings < 0:
        session.execute(
            update(CheckpointRaterCount)
            .where(CheckpointRaterCount.checkpoint_id == checkpoint_id, CheckpointRaterCount.rater_id == rater_id)
            .values(ratings=CheckpointRaterCount.ratings - 1)
        )


def rebuild(session: Session, checkpoint_ids: Sequence[int] | None = None) -> None:
    """Recompute the aggregates from the ratings (of these checkpoints, or all): for bulk loaders
    that insert ratings directly, and as the reference the tests compare against."""
    stats_delete, counts_delete = delete(SampleRatingStats), delete(CheckpointRaterCount)
    if checkpoint_ids is not None:
        ids = list(checkpoint_ids)
        stats_delete = stats_delete.where(SampleRatingStats.checkpoint_id.in_(ids))
        counts_delete = counts_delete.where(CheckpointRaterCount.checkpoint_id.in_(ids))
    session.execute(stats_delete)
    session.execute(counts_delete)

    def scoped(query):
        return query if checkpoint_ids is None else query.where(Sample.checkpoint_id.in_(ids))

    per_sample = scoped(
        select(
            Rating.sample_id, Sample.checkpoint_id, func.count(),
            *(func.sum(case((getattr(Rating, c) == v, 1), else_=0)) for c in SCORE_COLUMNS for v in SCORE_VALUES),
        )
        .join(Sample, Sample.id == Rating.sample_id)
        .group_by(Rating.sample_id, Sample.checkpoint_id)
    )
    session.execute(insert(SampleRatingStats).from_select(["sample_id", "checkpoint_id", "ratings", *COUNT_COLUMNS], per_sample))
    per_rater = scoped(
        select(Sample.checkpoint_id, Rating.rater_id, func.count())
        .join(Sample, Sample.id == Rating.sample_id)
        .group_by(Sample.checkpoint_id, Rating.rater_id)
    )
    session.execute(insert(CheckpointRaterCount).from_select(["checkpoint_id", "rater_id", "ratings"], per_rater))
