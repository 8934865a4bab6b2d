"""Rating aggregates kept current at write time: per sample, how many ratings gave each score on
each criterion (`sample_rating_stats`), and ratings per checkpoint and rater (`checkpoint_rater_counts`).

db/ratings.py calls `record_change` in the transaction of every save, edit, flag and undo, after
locking the sample row (so two writers of one sample apply their changes one after the other);
nothing else writes ratings except bulk loaders (fixtures, benchmarks), which call `rebuild`.
The dashboard (db/scores.py, db/stickers.py) reads only these tables: its cost grows with the
number of samples, not of ratings.
"""
from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import bindparam, case, delete, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from db.models import (
    SCORE_COLUMNS,
    SCORE_VALUES,
    Checkpoint,
    CheckpointRaterCount,
    Rating,
    Sample,
    SampleRatingStats,
)
from db.upsert import conflict_insert, prepared

COUNT_COLUMNS = tuple(f"{c}_{v}" for c in SCORE_COLUMNS for v in SCORE_VALUES)
ScoreTuple = tuple[int, int, int]  # generality, emoji style, quality


def _counts(scores: ScoreTuple | None) -> Counter:
    if scores is None:
        return Counter()
    return Counter(f"{c}_{v}" for c, v in zip(SCORE_COLUMNS, scores, strict=True))


def _stats_add(session: Session):
    """A new or edited rating: the sample's row may not exist yet (its first rating)."""
    stats, deltas = SampleRatingStats.__table__, ("ratings", *COUNT_COLUMNS)
    add = conflict_insert(session, SampleRatingStats).values({c: bindparam(c) for c in ("sample_id", "checkpoint_id", *deltas)})
    return add.on_conflict_do_update(index_elements=["sample_id"], set_={c: stats.c[c] + add.excluded[c] for c in deltas})


def _count_add(session: Session):
    counts = CheckpointRaterCount.__table__
    return (conflict_insert(session, CheckpointRaterCount)
            .values(checkpoint_id=bindparam("checkpoint_id"), rater_id=bindparam("rater_id"), ratings=literal_column("1"))
            .on_conflict_do_update(index_elements=["checkpoint_id", "rater_id"], set_={"ratings": counts.c.ratings + 1}))


@functools.cache
def _undo_updates() -> tuple:
    """The two UPDATEs of an undo, built once (plain UPDATEs: SQLAlchemy caches their compiled form)."""
    stats, counts = SampleRatingStats.__table__, CheckpointRaterCount.__table__
    deltas = ("ratings", *COUNT_COLUMNS)
    stats_undo = (update(stats).where(stats.c.sample_id == bindparam("key_sample_id"))
                  .values({c: stats.c[c] + bindparam(f"d_{c}") for c in deltas}))  # it counted this rating
    count_undo = (update(counts)
                  .where(counts.c.checkpoint_id == bindparam("key_checkpoint_id"), counts.c.rater_id == bindparam("key_rater_id"))
                  .values(ratings=counts.c.ratings - 1))
    return stats_undo, count_undo


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
    d_ratings = (new is not None) - (old is not None)
    if new is not None:
        added = {"sample_id": sample_id, "checkpoint_id": checkpoint_id, "ratings": d_ratings,
                 **{c: delta[c] for c in COUNT_COLUMNS}}
        if d_ratings > 0 and session.get_bind().dialect.name == "postgresql":  # one round trip for both
            session.execute(prepared(session, "stats and count add", lambda s: [_stats_add(s), _count_add(s)]),
                            {**added, "rater_id": rater_id})
            return
        session.execute(prepared(session, "stats add", _stats_add), added)
    else:
        session.execute(_undo_updates()[0], {"key_sample_id": sample_id, "d_ratings": d_ratings,
                                             **{f"d_{c}": delta[c] for c in COUNT_COLUMNS}})
    if d_ratings > 0:
        session.execute(prepared(session, "count add", _count_add), {"checkpoint_id": checkpoint_id, "rater_id": rater_id})
    elif d_ratings < 0:
        session.execute(_undo_updates()[1], {"key_checkpoint_id": checkpoint_id, "key_rater_id": rater_id})


def run_ratings_total(session: Session, run_id: int) -> int:
    """How many ratings the run's samples have (from the aggregates: one indexed sum, not a count of ratings)."""
    run_checkpoints = select(Checkpoint.id).where(Checkpoint.run_id == run_id)
    total = session.scalar(select(func.sum(CheckpointRaterCount.ratings))
                           .where(CheckpointRaterCount.checkpoint_id.in_(run_checkpoints)))
    return int(total or 0)


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
