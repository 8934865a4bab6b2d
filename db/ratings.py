"""Ratings: one row per rater and sample (a second submit edits it), blind queue order, export."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from db import rating_stats
from db.errors import InvalidScore, SampleNotFound
from db.models import SCORE_COLUMNS, Checkpoint, Prompt, Rater, Rating, Run, Sample, utcnow
from db.rating_stats import rebuild as rebuild_rating_stats
from db.upsert import conflict_insert

ARTIFACT_COMMENT = "artifact (flagged in grid)"
_PRIME = 2_147_483_647  # 2**31 - 1: (id * a + b) mod p is a permutation of ids below p


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


def _order_params(rater_id: int) -> tuple[int, int]:
    digest = hashlib.sha256(f"emojich-blind-order:{rater_id}".encode()).digest()
    a = int.from_bytes(digest[:4], "big") % (_PRIME - 1) + 1
    b = int.from_bytes(digest[4:8], "big") % _PRIME
    return a, b


def blind_order(rater_id: int):
    """A per-rater pseudo-random but reproducible order of samples, computed in SQL."""
    a, b = _order_params(rater_id)
    return (Sample.id * a + b) % _PRIME


def _not_rated_by(rater_id: int):
    return ~exists().where(and_(Rating.sample_id == Sample.id, Rating.rater_id == rater_id))


def _next_unrated(rater_id: int, exclude: tuple[int, ...]):
    query = select(Sample).where(_not_rated_by(rater_id))
    if exclude:
        query = query.where(Sample.id.not_in(list(exclude)))
    return query.order_by(blind_order(rater_id)).limit(1)


def next_unrated_sample(session: Session, rater_id: int, exclude: tuple[int, ...] = ()) -> Sample | None:
    """The next sample this rater has not rated, in their blind order (skipped ids excluded)."""
    return session.scalar(_next_unrated(rater_id, exclude))


def rating_progress(session: Session, rater_id: int) -> tuple[int, int]:
    """(done, total): samples this rater has rated, samples there are."""
    done = session.scalar(select(func.count()).select_from(Rating).where(Rating.rater_id == rater_id))
    total = session.scalar(select(func.count()).select_from(Sample))
    return int(done or 0), int(total or 0)


def get_rating(session: Session, rater_id: int, sample_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.rater_id == rater_id, Rating.sample_id == sample_id))


def save_rating(
    session: Session, rater_id: int, sample_id: int, scores: Scores, comment: str | None = None
) -> SavedRating:
    """Insert or edit (rater, sample)'s rating in one statement: a double submit or a race keeps one row."""
    checkpoint_id = _lock_sample(session, sample_id)
    if checkpoint_id is None:
        raise SampleNotFound(f"sample {sample_id} no longer exists (it was deleted); nothing was saved")
    old = _current_scores(session, rater_id, sample_id)
    now = utcnow()
    values = {
        "rater_id": rater_id,
        "sample_id": sample_id,
        "generality": scores.generality,
        "emoji_style": scores.emoji_style,
        "quality": scores.quality,
        "comment": comment,
        "created_at": now,
        "updated_at": now,
    }
    changes = {k: values[k] for k in (*SCORE_COLUMNS, "updated_at")}
    if comment is not None:
        changes["comment"] = comment
    stmt = conflict_insert(session, Rating).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["rater_id", "sample_id"], set_=changes)
    rating_id = session.execute(stmt.returning(Rating.id)).scalar_one()
    _record(session, sample_id, checkpoint_id, rater_id, old, (scores.generality, scores.emoji_style, scores.quality))
    return SavedRating(rating_id=rating_id, sample_id=sample_id, created=old is None)


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
    row = session.execute(
        select(Rating.generality, Rating.emoji_style, Rating.quality)
        .where(Rating.rater_id == rater_id, Rating.sample_id == sample_id)
    ).first()
    return None if row is None else tuple(row)


def _record(session: Session, sample_id: int, checkpoint_id: int, rater_id: int, old, new) -> None:
    rating_stats.record_change(session, sample_id=sample_id, checkpoint_id=checkpoint_id, rater_id=rater_id,
                               old=old, new=new)

# -----------------------------------------------------------------------------------------------------


def last_rated_sample_id(session: Session, rater_id: int) -> int | None:
    return session.scalar(
        select(Rating.sample_id).where(Rating.rater_id == rater_id).order_by(Rating.updated_at.desc(), Rating.id.desc()).limit(1)
    )


@dataclass(frozen=True)
class GridTile:
    sample_id: int
    image_sha256: str
    scores: Scores | None
    flagged: bool


def list_grid(session: Session, checkpoint_id: int, rater_id: int) -> list[GridTile]:
    """A checkpoint's samples in prompt order, with this rater's scores where they exist."""
    rows = session.execute(
        select(Sample.id, Sample.image_sha256, Rating.generality, Rating.emoji_style, Rating.quality, Rating.comment)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .outerjoin(Rating, and_(Rating.sample_id == Sample.id, Rating.rater_id == rater_id))
        .where(Sample.checkpoint_id == checkpoint_id)
        .order_by(Prompt.position, Sample.seed)
    ).all()
    return [
        GridTile(
            sample_id=r[0],
            image_sha256=r[1],
            scores=Scores(r[2], r[3], r[4]) if r[2] is not None else None,
            flagged=r[5] == ARTIFACT_COMMENT,
        )
        for r in rows
    ]


def flag_artifacts(session: Session, rater_id: int, sample_ids: list[int]) -> int:
    """Mark rated samples as showing artifacts: quality drops to 1 and the comment says why."""
    if not sample_ids:
        return 0
    checkpoints = dict(session.execute(  # locked in id order: two flaggers never wait on each other in a circle
        select(Sample.id, Sample.checkpoint_id).where(Sample.id.in_(sample_ids)).order_by(Sample.id)
        .with_for_update(key_share=True)
    ).all())
    old_quality = dict(session.execute(
        select(Rating.sample_id, Rating.quality).where(Rating.rater_id == rater_id, Rating.sample_id.in_(list(checkpoints)))
    ).all())
    rows = session.execute(
        update(Rating)
        .where(Rating.rater_id == rater_id, Rating.sample_id.in_(list(checkpoints)))
        .values(quality=1, comment=ARTIFACT_COMMENT, updated_at=utcnow())
        .returning(Rating.sample_id, Rating.generality, Rating.emoji_style, Rating.quality)
    ).all()
    for sample_id, g, s, _ in rows:
        _record(session, sample_id, checkpoints[sample_id], rater_id, (g, s, old_quality[sample_id]), (g, s, 1))
    return len(rows)


def blind_checkpoint_order(session: Session, rater_id: int) -> list[int]:
    """Checkpoint ids in a per-rater shuffled order (the grid labels them A, B, … without steps)."""
    a, b = _order_params(rater_id)
    return list(session.scalars(select(Checkpoint.id).order_by((Checkpoint.id * a + b) % _PRIME)))


EXPORT_COLUMNS = (
    "rating_id", "run", "step", "checkpoint_id", "sample_id", "prompt_position", "prompt", "seed",
    "rater", *SCORE_COLUMNS, "comment", "created_at", "updated_at",
)


def iter_ratings_for_export(session: Session, run_id: int | None = None) -> Iterator[tuple]:
    """Every rating with its context, streamed in chunks (for CSV export)."""
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


@dataclass(frozen=True)
class RateItem:
    """What a blind rater sees of a sample: its image and prompt, nothing about run or step."""

    sample_id: int
    image_sha256: str
    prompt: str


def _rate_item(session: Session, query) -> RateItem | None:
    row = session.execute(
        query.with_only_columns(Sample.id, Sample.image_sha256, Prompt.text).join(Prompt, Prompt.id == Sample.prompt_id)
    ).first()
    return RateItem(*row) if row else None


def next_item(session: Session, rater_id: int, exclude: tuple[int, ...] = ()) -> RateItem | None:
    """`next_unrated_sample`, as the blind view needs it."""
    return _rate_item(session, _next_unrated(rater_id, exclude))


def rate_item(session: Session, sample_id: int) -> RateItem | None:
    return _rate_item(session, select(Sample).where(Sample.id == sample_id))


def get_scores(session: Session, rater_id: int, sample_id: int) -> Scores | None:
    rating = get_rating(session, rater_id, sample_id)
    return Scores(rating.generality, rating.emoji_style, rating.quality) if rating else None
