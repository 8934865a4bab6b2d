"""What the bot's admins look at (the workbench's Bot page): traffic, queue, answer times, failures, picks."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.jobs import aware
from db.models import GenerationJob, JobCandidate, StickerPick, utcnow


@dataclass(frozen=True)
class DayCount:
    day: str  # YYYY-MM-DD (UTC)
    requests: int
    failed: int


def requests_per_day(session: Session, days: int = 30, now: datetime | None = None) -> list[DayCount]:
    since = (now or utcnow()) - timedelta(days=days)
    day = func.date(GenerationJob.created_at)
    rows = session.execute(
        select(day, func.count(), func.sum(case((GenerationJob.status == "failed", 1), else_=0)))
        .where(GenerationJob.created_at >= since).group_by(day).order_by(day)
    ).all()
    return [DayCount(str(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]


@dataclass(frozen=True)
class QueueState:
    queued: int
    running: int
    done: int
    failed: int


def queue_state(session: Session) -> QueueState:
    counts = dict(session.execute(select(GenerationJob.status, func.count()).group_by(GenerationJob.status)).all())
    return QueueState(*(int(counts.get(s, 0)) for s in ("queued", "running", "done", "failed")))


def answer_times_s(session: Session, limit: int = 1000) -> list[float]:
    """Seconds from caption to album for the latest delivered jobs."""
    rows = session.execute(
        select(GenerationJob.created_at, GenerationJob.delivered_at)
        .where(GenerationJob.status == "done", GenerationJob.delivered_at.is_not(None))
        .order_by(GenerationJob.id.desc()).limit(limit)
    ).all()
    return [(aware(done) - aware(asked)).total_seconds() for asked, done in rows]


def median_answer_s(session: Session, limit: int = 1000) -> float | None:
    times = answer_times_s(session, limit)
    return statistics.median(times) if times else None


@dataclass(frozen=True)
class Failure:
    job_id: int
    created_at: datetime
    prompt: str
    attempts: int
    error: str | None


def recent_failures(session: Session, limit: int = 20) -> list[Failure]:
    rows = session.execute(
        select(GenerationJob.id, GenerationJob.created_at, GenerationJob.prompt, GenerationJob.attempts,
               GenerationJob.error)
        .where(GenerationJob.status == "failed").order_by(GenerationJob.id.desc()).limit(limit)
    ).all()
    return [Failure(*r) for r in rows]


def most_picked_captions(session: Session, limit: int = 20) -> list[tuple[str, int]]:
    """Captions by how many of their candidates people put in a set (removed later or not)."""
    picks = func.count(StickerPick.id)
    rows = session.execute(
        select(GenerationJob.prompt, picks)
        .join(JobCandidate, JobCandidate.job_id == GenerationJob.id)
        .join(StickerPick, StickerPick.candidate_id == JobCandidate.id)
        .where(StickerPick.status.in_(("added", "removed")))
        .group_by(GenerationJob.prompt).order_by(picks.desc(), GenerationJob.prompt).limit(limit)
    ).all()
    return [(r[0], int(r[1])) for r in rows]


@dataclass(frozen=True)
class PickedSticker:
    pick_id: int
    rgba_sha256: str
    sample_id: int
    prompt: str
    status: str  # added | removed
    created_at: datetime


def picked_stickers(session: Session, limit: int = 48) -> list[PickedSticker]:
    rows = session.execute(
        select(StickerPick.id, JobCandidate.rgba_sha256, JobCandidate.sample_id, GenerationJob.prompt,
               StickerPick.status, StickerPick.created_at)
        .join(JobCandidate, JobCandidate.id == StickerPick.candidate_id)
        .join(GenerationJob, GenerationJob.id == JobCandidate.job_id)
        .where(StickerPick.status.in_(("added", "removed")))
        .order_by(StickerPick.id.desc()).limit(limit)
    ).all()
    return [PickedSticker(*r) for r in rows]
