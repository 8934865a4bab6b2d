"""Ratings: one row per rater and sample (a second submit edits it); skips that survive a reload;
silent repeats kept apart from the first rating; what the queue policy needs to choose; the grid's
artifact flags (per image, undoable, never touching a rating); the admin's export."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from db import rating_stats
from db.errors import InvalidScore, SampleNotFound
from db.models import (
    SCORE_COLUMNS,
    ArtifactFlag,
    Checkpoint,
    Prompt,
    Rater,
    Rating,
    RatingRepeat,
    RatingSkip,
    Run,
    Sample,
    SampleRatingStats,
    utcnow,
)
from db.raters import require_admin
from db.rating_stats import rebuild as rebuild_rating_stats
from db.upsert import conflict_insert, prepared


@dataclass(frozen=True)
class Scores:
    generality: int
    emoji_style: int
    quality: int

    def __post_init__(self) -> None:
        for name in SCORE_COLUMNS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise InvalidScore(f"{name.replace('_', ' ')} must be a whole number from 1 to 5, got {value!r}")


@dataclass(frozen=True)
class SavedRating:
    rating_id: int
    sample_id: int
    created: bool  # False: an earlier rating of the same sample by the same rater was edited


def _require_sample(session: Session, sample_id: int) -> None:
    if session.scalar(select(Sample.id).where(Sample.id == sample_id)) is None:
        raise SampleNotFound(f"sample {sample_id} no longer exists (it was deleted); nothing was saved")


def _run_samples(run_id: int):
    return select(Sample.id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id).where(Checkpoint.run_id == run_id)


def rating_progress(session: Session, rater_id: int, run_id: int | None = None) -> tuple[int, int]:
    """(done, total): samples this rater has rated, samples there are (in `run_id`, or everywhere)."""
    done = select(func.count()).select_from(Rating).where(Rating.rater_id == rater_id)
    total = select(func.count()).select_from(Sample)
    if run_id is not None:
        done = done.where(Rating.sample_id.in_(_run_samples(run_id)))
        total = total.where(Sample.id.in_(_run_samples(run_id)))
    return int(session.scalar(done) or 0), int(session.scalar(total) or 0)


def get_rating(session: Session, rater_id: int, sample_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.rater_id == rater_id, Rating.sample_id == sample_id))


def get_scores(session: Session, rater_id: int, sample_id: int) -> Scores | None:
    rating = get_rating(session, rater_id, sample_id)
    return Scores(rating.generality, rating.emoji_style, rating.quality) if rating else None


def save_rating(
    session: Session, rater_id: int, sample_id: int, scores: Scores, comment: str | None = None
) -> SavedRating:
    """Insert or edit (rater, sample)'s rating in one statement: a double submit or a race keeps one row."""
    checkpoint_id = _lock_sample(session, sample_id)
    if checkpoint_id is None:
        raise SampleNotFound(f"sample {sample_id} no longer exists (it was deleted); nothing was saved")
    now = utcnow()
    values = {"rater_id": rater_id, "sample_id": sample_id, "generality": scores.generality,
              "emoji_style": scores.emoji_style, "quality": scores.quality, "created_at": now, "updated_at": now}
    key = "rating upsert" if comment is None else "rating upsert with comment"  # an edit keeps the comment there was
    if comment is not None:
        values["comment"] = comment
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the upsert returns the scores it replaced. Safe because the sample's lock is
        # already held (a statement that waits for a lock sees other rows as they were when it began).
        row = session.execute(prepared(session, f"{key} returning old", _rating_upsert_returning_old(comment is not None)),
                              values).one()
        rating_id, old = row[0], (None if row[1] is None else (row[1], row[2], row[3]))
    else:  # SQLite evaluates such a WITH after the insert: it would return the new scores
        old = _current_scores(session, rater_id, sample_id)
        upsert = prepared(session, key, _rating_upsert_with_comment if comment is not None else _rating_upsert)
        rating_id = session.execute(upsert, values).scalar_one()
    _record(session, sample_id, checkpoint_id, rater_id, old, (scores.generality, scores.emoji_style, scores.quality))
    return SavedRating(rating_id=rating_id, sample_id=sample_id, created=old is None)


def _rating_upsert(session: Session, with_comment: bool = False):
    columns = ("rater_id", "sample_id", *SCORE_COLUMNS, *(("comment",) if with_comment else ()), "created_at", "updated_at")
    stmt = conflict_insert(session, Rating).values({c: bindparam(c) for c in columns})
    changes = (*SCORE_COLUMNS, "updated_at", *(("comment",) if with_comment else ()))
    return stmt.on_conflict_do_update(index_elements=["rater_id", "sample_id"],
                                      set_={c: stmt.excluded[c] for c in changes}).returning(Rating.id)


def _rating_upsert_with_comment(session: Session):
    return _rating_upsert(session, with_comment=True)


def _rating_upsert_returning_old(with_comment: bool):
    def build(session: Session):
        old = (select(Rating.generality, Rating.emoji_style, Rating.quality)
               .where(Rating.rater_id == bindparam("rater_id"), Rating.sample_id == bindparam("sample_id")).cte("old"))
        upsert = _rating_upsert(session, with_comment)
        return upsert.add_cte(old).returning(*(select(c).scalar_subquery() for c in old.c))
    return build


def add_ratings_bulk(session: Session, rows: list[dict]) -> int:
    """Insert many new ratings at once (imports, seeded fixtures): dicts of rater_id, sample_id and the three
    scores; the CHECK and unique constraints apply as for `save_rating`."""
    if not rows:
        return 0
    now = utcnow()
    session.execute(insert(Rating), [{**row, "created_at": now, "updated_at": now} for row in rows])
    checkpoint_ids = session.scalars(
        select(Sample.checkpoint_id).where(Sample.id.in_({row["sample_id"] for row in rows})).distinct()
    ).all()
    rebuild_rating_stats(session, checkpoint_ids)  # the per-sample aggregates, as save_rating keeps them
    return len(rows)


def delete_rating(session: Session, rater_id: int, sample_id: int) -> bool:
    """Undo: remove this rater's rating of a sample. True if there was one."""
    checkpoint_id = _lock_sample(session, sample_id)
    row = session.execute(
        delete(Rating).where(Rating.rater_id == rater_id, Rating.sample_id == sample_id)
        .returning(Rating.generality, Rating.emoji_style, Rating.quality)
    ).first()
    if row is None:
        return False
    _record(session, sample_id, checkpoint_id, rater_id, tuple(row), None)
    return True


# ---- the aggregates of db/rating_stats.py, kept current by every write above and below --------------

def _lock_sample(session: Session, sample_id: int) -> int | None:
    """The sample's checkpoint id, with its row locked until the transaction ends (PostgreSQL:
    FOR NO KEY UPDATE, which foreign-key checks do not wait for; SQLite writers are serialised
    already), so two writes to one sample's ratings update its aggregates one after the other."""
    return session.scalar(select(Sample.checkpoint_id).where(Sample.id == sample_id).with_for_update(key_share=True))


def _current_scores(session: Session, rater_id: int, sample_id: int) -> tuple[int, int, int] | None:
    # Its own statement, after the lock: on PostgreSQL a statement that waited for a row lock sees
    # the locked row as it is now but every joined row as it was when the statement began, so one
    # query that locked the sample and read the rating too miscounted concurrent edits
    # (tests/test_rating_aggregates.py).
    row = session.execute(
        select(Rating.generality, Rating.emoji_style, Rating.quality)
        .where(Rating.rater_id == rater_id, Rating.sample_id == sample_id)
    ).first()
    return None if row is None else tuple(row)


def _record(session: Session, sample_id: int, checkpoint_id: int, rater_id: int, old, new) -> None:
    rating_stats.record_change(session, sample_id=sample_id, checkpoint_id=checkpoint_id, rater_id=rater_id,
                               old=old, new=new)

# -----------------------------------------------------------------------------------------------------


def last_rated_sample_id(session: Session, rater_id: int, run_id: int | None = None) -> int | None:
    query = select(Rating.sample_id).where(Rating.rater_id == rater_id)
    if run_id is not None:
        query = query.where(Rating.sample_id.in_(_run_samples(run_id)))
    return session.scalar(query.order_by(Rating.updated_at.desc(), Rating.id.desc()).limit(1))


# --- skips and silent repeats -------------------------------------------------------------------

def add_skip(session: Session, rater_id: int, sample_id: int) -> None:
    """Remember that this rater skipped the sample (a second skip changes nothing)."""
    _require_sample(session, sample_id)
    session.execute(prepared(session, "skip insert", _skip_insert),
                    {"rater_id": rater_id, "sample_id": sample_id, "created_at": utcnow()})


def _skip_insert(session: Session):
    return conflict_insert(session, RatingSkip).values(
        {c: bindparam(c) for c in ("rater_id", "sample_id", "created_at")}
    ).on_conflict_do_nothing(index_elements=["rater_id", "sample_id"])


def clear_skips(session: Session, rater_id: int, run_id: int | None = None) -> int:
    """Bring a rater's skipped samples back into their queue. Returns how many."""
    query = delete(RatingSkip).where(RatingSkip.rater_id == rater_id)
    if run_id is not None:
        query = query.where(RatingSkip.sample_id.in_(_run_samples(run_id)))
    return int(session.execute(query).rowcount or 0)


def save_repeat(session: Session, rater_id: int, sample_id: int, scores: Scores) -> bool:
    """Store a silent repeat's scores apart from the first rating (which stays as it was). A second
    repeat of the same image keeps the first repeat; returns False then."""
    _require_sample(session, sample_id)
    values = {"rater_id": rater_id, "sample_id": sample_id, "generality": scores.generality,
              "emoji_style": scores.emoji_style, "quality": scores.quality, "created_at": utcnow()}
    return bool(session.execute(prepared(session, "repeat insert", _repeat_insert), values).rowcount)


def _repeat_insert(session: Session):
    columns = ("rater_id", "sample_id", *SCORE_COLUMNS, "created_at")
    return conflict_insert(session, RatingRepeat).values({c: bindparam(c) for c in columns}).on_conflict_do_nothing(
        index_elements=["rater_id", "sample_id"])


# --- what the queue policy chooses from ---------------------------------------------------------

@dataclass(frozen=True)
class QueueSnapshot:
    """One run's samples and one rater's history in it, as plain values."""

    items: list[tuple[int, int, int]]  # (sample id, checkpoint id, prompt id), by sample id
    raters: dict[int, int]  # sample id → number of raters who rated it
    rated: list[int]  # this rater's rated samples, oldest first
    skipped: frozenset[int]
    repeated: frozenset[int]


class _QueueStatements:
    """The queue's reads, built once with parameters (`run_id`, `rater_id`): the Rate page runs them
    on every Next, and building and keying five selects cost more CPU than running them. Two round
    trips: the run's samples with their raters (from the aggregates db/rating_stats.py keeps), and
    this rater's rated, skipped and repeated samples in one UNION ALL."""

    def __init__(self) -> None:
        run_checkpoints = select(Checkpoint.id).where(Checkpoint.run_id == bindparam("run_id"))
        in_run = Sample.checkpoint_id.in_(run_checkpoints)
        self.items = select(Sample.id, Sample.checkpoint_id, Sample.prompt_id).where(in_run).order_by(Sample.id)
        self.items_and_raters = (
            select(Sample.id, Sample.checkpoint_id, Sample.prompt_id, SampleRatingStats.ratings)
            .outerjoin(SampleRatingStats, SampleRatingStats.sample_id == Sample.id)
            .where(in_run).order_by(Sample.id)
        )
        run_samples = select(Sample.id).where(in_run)
        mine = bindparam("rater_id")
        rated = select(literal(0).label("kind"), Rating.sample_id, Rating.created_at.label("at"), Rating.id.label("n")).where(
            Rating.rater_id == mine, Rating.sample_id.in_(run_samples))
        skipped = select(literal(1), RatingSkip.sample_id, RatingSkip.created_at, RatingSkip.sample_id).where(
            RatingSkip.rater_id == mine, RatingSkip.sample_id.in_(run_samples))
        repeated = select(literal(2), RatingRepeat.sample_id, RatingRepeat.created_at, RatingRepeat.sample_id).where(
            RatingRepeat.rater_id == mine, RatingRepeat.sample_id.in_(run_samples))
        both = union_all(rated, skipped, repeated).subquery()
        self.history = select(both.c.kind, both.c.sample_id).order_by(both.c.kind, both.c.at, both.c.n)


@cache
def _queue_statements() -> _QueueStatements:
    return _QueueStatements()


def run_items(session: Session, run_id: int) -> list[tuple[int, int, int]]:
    """(sample id, checkpoint id, prompt id) of every sample of the run, by sample id."""
    rows = session.execute(_queue_statements().items, {"run_id": run_id})
    return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def queue_snapshot(session: Session, run_id: int, rater_id: int) -> QueueSnapshot:
    q, params = _queue_statements(), {"run_id": run_id, "rater_id": rater_id}
    items, raters = [], {}
    for sample_id, checkpoint_id, prompt_id, count in session.execute(q.items_and_raters, params):
        items.append((int(sample_id), int(checkpoint_id), int(prompt_id)))
        if count:
            raters[int(sample_id)] = int(count)
    history: tuple[list[int], list[int], list[int]] = ([], [], [])
    for kind, sample_id in session.execute(q.history, params):
        history[int(kind)].append(int(sample_id))
    rated, skipped, repeated = history
    return QueueSnapshot(items, raters, rated, frozenset(skipped), frozenset(repeated))


@dataclass(frozen=True)
class RateItem:
    """What a blind rater's page is built from: the image and prompt. The sample id stays on the
    server (the page gets an opaque per-view token instead)."""

    sample_id: int
    image_sha256: str
    prompt: str
    checkpoint_id: int
    prompt_id: int


def rate_item(session: Session, sample_id: int) -> RateItem | None:
    row = session.execute(
        select(Sample.id, Sample.image_sha256, Prompt.text, Sample.checkpoint_id, Sample.prompt_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .where(Sample.id == sample_id)
    ).first()
    return RateItem(*row) if row else None


# --- the grid: tiles and artifact flags ---------------------------------------------------------

@dataclass(frozen=True)
class GridTile:
    sample_id: int
    image_sha256: str
    scores: Scores | None
    flagged: bool


def list_grid(session: Session, checkpoint_id: int, rater_id: int) -> list[GridTile]:
    """A checkpoint's samples in prompt order, with this rater's scores and artifact flags."""
    rows = session.execute(
        select(Sample.id, Sample.image_sha256, Rating.generality, Rating.emoji_style, Rating.quality, ArtifactFlag.id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .outerjoin(Rating, and_(Rating.sample_id == Sample.id, Rating.rater_id == rater_id))
        .outerjoin(ArtifactFlag, and_(ArtifactFlag.sample_id == Sample.id, ArtifactFlag.rater_id == rater_id))
        .where(Sample.checkpoint_id == checkpoint_id)
        .order_by(Prompt.position, Sample.seed)
    ).all()
    return [
        GridTile(r[0], r[1], Scores(r[2], r[3], r[4]) if r[2] is not None else None, r[5] is not None)
        for r in rows
    ]


def set_artifact_flags(session: Session, rater_id: int, checkpoint_id: int, flagged: set[int]) -> tuple[int, int]:
    """Make this rater's artifact flags on a checkpoint's images exactly `flagged` (unticking one
    undoes it). Ratings are not touched. Returns (added, removed)."""
    in_checkpoint = select(Sample.id).where(Sample.checkpoint_id == checkpoint_id)
    valid = set(session.scalars(in_checkpoint.where(Sample.id.in_(list(flagged))))) if flagged else set()
    current = set(session.scalars(
        select(ArtifactFlag.sample_id).where(ArtifactFlag.rater_id == rater_id, ArtifactFlag.sample_id.in_(in_checkpoint))
    ))
    removed = current - valid
    if removed:
        session.execute(delete(ArtifactFlag).where(ArtifactFlag.rater_id == rater_id, ArtifactFlag.sample_id.in_(removed)))
    now = utcnow()
    for sample_id in sorted(valid - current):
        stmt = conflict_insert(session, ArtifactFlag).values(rater_id=rater_id, sample_id=sample_id, created_at=now)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["rater_id", "sample_id"]))
    return len(valid - current), len(removed)


# --- export (admins only: it names runs, steps and raters) --------------------------------------

EXPORT_COLUMNS = (
    "rating_id", "run", "step", "checkpoint_id", "sample_id", "prompt_position", "prompt", "seed",
    "rater", *SCORE_COLUMNS, "comment", "created_at", "updated_at",
)


def iter_ratings_for_export(session: Session, admin_id: int, run_id: int | None = None) -> Iterator[tuple]:
    """Every rating with its context, streamed in chunks (for CSV export); admins only."""
    require_admin(session, admin_id, "export ratings")
    query = (
        select(
            Rating.id, Run.name, Checkpoint.step, Checkpoint.id, Sample.id, Prompt.position, Prompt.text,
            Sample.seed, Rater.name, Rating.generality, Rating.emoji_style, Rating.quality, Rating.comment,
            Rating.created_at, Rating.updated_at,
        )
        .join(Sample, Sample.id == Rating.sample_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .join(Run, Run.id == Checkpoint.run_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .join(Rater, Rater.id == Rating.rater_id)
        .order_by(Run.id, Checkpoint.step, Prompt.position, Rater.name)
    )
    if run_id is not None:
        query = query.where(Checkpoint.run_id == run_id)
    for row in session.execute(query.execution_options(yield_per=5000)):
        yield tuple(row)
