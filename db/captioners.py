"""Captioners (the inverse models behind Caption Loss) and the caption losses they write on samples.

Invariant: every non-null `samples.caption_loss` comes from the newest captioner sharing that run's
tokenizer and VAE. `add_captioner` takes the runs whose scores it makes stale and clears them in the
same transaction; the score job (`emojich score`) fills what is null, so it is idempotent and resumable.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.errors import EmojichError, NotFound
from db.models import Captioner, Checkpoint, Image, Prompt, Sample


class CaptionerExists(EmojichError):
    pass


class CaptionerNotFound(NotFound):
    pass


def add_captioner(session: Session, stale_run_ids: Iterable[int] = (), **fields) -> tuple[Captioner, int]:
    """Record a trained captioner and clear the caption losses of `stale_run_ids` (the runs it scores from
    now on, scored so far by an older one); returns the row and how many losses were cleared."""
    name = fields.get("name", "")
    if session.scalar(select(Captioner.id).where(Captioner.name == name)) is not None:
        raise CaptionerExists(f"a captioner named {name!r} exists; choose another --name")
    captioner = Captioner(**fields)
    session.add(captioner)
    session.flush()
    return captioner, clear_caption_losses(session, stale_run_ids)


def get_captioner_by_name(session: Session, name: str) -> Captioner | None:
    return session.scalar(select(Captioner).where(Captioner.name == name))


def find_captioner(session: Session, name: str) -> Captioner:
    captioner = get_captioner_by_name(session, name)
    if captioner is None:
        names = session.scalars(select(Captioner.name).order_by(Captioner.id)).all()
        hint = f"; known: {', '.join(names)}" if names else "; none trained yet (emojich captioner train)"
        raise CaptionerNotFound(f"captioner {name!r} not found{hint}")
    return captioner


def latest_captioner(session: Session, vae_file: str, tokenizer_file: str) -> Captioner | None:
    """The newest captioner trained with this VAE and tokenizer (the one that scores such runs)."""
    return session.scalar(
        select(Captioner)
        .where(Captioner.vae_file == vae_file, Captioner.tokenizer_file == tokenizer_file)
        .order_by(Captioner.id.desc())
        .limit(1)
    )


def list_captioners(session: Session) -> list[Captioner]:
    return list(session.scalars(select(Captioner).order_by(Captioner.id)))


@dataclass(frozen=True)
class SampleToScore:
    sample_id: int
    prompt: str
    png: bytes


def unscored_samples(session: Session, run_id: int, limit: int) -> list[SampleToScore]:
    """Up to `limit` of the run's samples without a caption loss, oldest first, with prompt and PNG."""
    rows = session.execute(
        select(Sample.id, Prompt.text, Image.png)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .join(Image, Image.sha256 == Sample.image_sha256)
        .where(Checkpoint.run_id == run_id, Sample.caption_loss.is_(None))
        .order_by(Sample.id)
        .limit(limit)
    ).all()
    return [SampleToScore(r[0], r[1], r[2]) for r in rows]


def set_caption_losses(session: Session, losses: Mapping[int, float]) -> None:
    """Write caption losses by sample id (one executemany UPDATE)."""
    if losses:
        session.execute(update(Sample), [{"id": k, "caption_loss": float(v)} for k, v in losses.items()])


def clear_caption_losses(session: Session, run_ids: Iterable[int]) -> int:
    run_ids = list(run_ids)
    if not run_ids:
        return 0
    checkpoints = select(Checkpoint.id).where(Checkpoint.run_id.in_(run_ids))
    result = session.execute(
        update(Sample)
        .where(Sample.checkpoint_id.in_(checkpoints), Sample.caption_loss.is_not(None))
        .values(caption_loss=None)
    )
    return result.rowcount or 0


def caption_loss_counts(session: Session, run_id: int) -> tuple[int, int]:
    """(samples with a caption loss, samples) of a run."""
    scored, total = session.execute(
        select(func.count(Sample.caption_loss), func.count())
        .select_from(Sample)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
    ).one()
    return int(scored), int(total)
