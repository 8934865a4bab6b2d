"""Users' Telegram sticker sets and their picks (the candidates they tapped).

A user's current set is their set with the highest ordinal; /new adds the next one. A set row exists
before Telegram knows the set (`created_in_telegram_at` is NULL until createNewStickerSet succeeded),
so the first tap creates it there and later taps add to it. A pick that Telegram refused is kept
with its error (status failed): the candidate can be tapped again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import DatasetItem, GenerationJob, JobCandidate, StickerPick, StickerSet, utcnow


@dataclass(frozen=True)
class PickableCandidate:
    id: int
    job_id: int
    owner_id: int  # the Telegram user who asked for it
    prompt: str
    rgba_sha256: str
    sample_id: int


def get_candidate(session: Session, candidate_id: int) -> PickableCandidate | None:
    row = session.execute(
        select(JobCandidate.id, JobCandidate.job_id, GenerationJob.telegram_user_id, GenerationJob.prompt,
               JobCandidate.rgba_sha256, JobCandidate.sample_id)
        .join(GenerationJob, GenerationJob.id == JobCandidate.job_id)
        .where(JobCandidate.id == candidate_id)
    ).first()
    return None if row is None else PickableCandidate(*row)


def current_set(session: Session, user_id: int) -> StickerSet | None:
    return session.scalar(
        select(StickerSet).where(StickerSet.telegram_user_id == user_id).order_by(StickerSet.ordinal.desc()).limit(1)
    )


def add_set(session: Session, user_id: int, ordinal: int, name: str, title: str) -> StickerSet:
    row = StickerSet(telegram_user_id=user_id, ordinal=ordinal, name=name, title=title)
    session.add(row)
    session.flush()
    return row


def mark_created_in_telegram(session: Session, set_id: int, now: datetime | None = None) -> None:
    session.execute(update(StickerSet).where(StickerSet.id == set_id).values(created_in_telegram_at=now or utcnow()))


def count_stickers(session: Session, set_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(StickerPick)
        .where(StickerPick.sticker_set_id == set_id, StickerPick.status == "added")
    ) or 0


def is_in_set(session: Session, candidate_id: int, set_id: int) -> bool:
    return session.scalar(
        select(func.count()).select_from(StickerPick)
        .where(StickerPick.candidate_id == candidate_id, StickerPick.sticker_set_id == set_id,
               StickerPick.status == "added")
    ) > 0


def add_pick(session: Session, *, candidate_id: int, set_id: int, user_id: int, status: str, emoji: str,
             file_id: str | None = None, error: str | None = None) -> StickerPick:
    row = StickerPick(candidate_id=candidate_id, sticker_set_id=set_id, telegram_user_id=user_id, status=status,
                      emoji=emoji, file_id=file_id, error=error)
    session.add(row)
    session.flush()
    return row


def last_added_pick(session: Session, user_id: int) -> StickerPick | None:
    """The user's latest sticker still in one of their sets (what /undo removes)."""
    return session.scalar(
        select(StickerPick).where(StickerPick.telegram_user_id == user_id, StickerPick.status == "added")
        .order_by(StickerPick.created_at.desc(), StickerPick.id.desc()).limit(1)
    )


def mark_removed(session: Session, pick_id: int, now: datetime | None = None) -> None:
    session.execute(update(StickerPick).where(StickerPick.id == pick_id).values(status="removed",
                                                                                removed_at=now or utcnow()))


def get_set(session: Session, set_id: int) -> StickerSet | None:
    return session.get(StickerSet, set_id)


def emoji_for_caption(session: Session, caption: str) -> str | None:
    """The dataset emoji whose caption is exactly `caption` (normalised like dataset captions); the
    plainest one (fewest code points: no skin tone) when several share it."""
    rows = session.scalars(
        select(DatasetItem.emoji).where(DatasetItem.caption == caption, DatasetItem.emoji.is_not(None))
    ).all()
    return min(rows, key=lambda e: (len(e), e)) if rows else None
