"""A run's rating design (overlap, target raters, queue policy, repeats, hold-back minimums) and
which run raters are rating now."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.models import QUEUE_POLICIES, Checkpoint, RatingDesign, Run, Sample, utcnow
from db.raters import require_admin
from db.runs import get_run


class InvalidDesign(EmojichError):
    pass


@dataclass(frozen=True)
class Design:
    run_id: int
    queue: str = "uniform"
    overlap_share: float = 0.2
    target_raters: int = 2
    repeats: int = 5
    min_overlap_raters: int = 2
    min_rated_per_checkpoint: int = 12
    seed: int = 0
    opened_at: datetime | None = None


SETTINGS = ("queue", "overlap_share", "target_raters", "repeats", "min_overlap_raters", "min_rated_per_checkpoint")


def get_design(session: Session, run_id: int) -> Design:
    """The run's design; the defaults when no admin has set one."""
    row = session.get(RatingDesign, run_id)
    if row is None:
        return Design(run_id)
    return Design(**{f.name: getattr(row, f.name) for f in fields(Design)})


def _check(values: dict) -> None:
    if values["queue"] not in QUEUE_POLICIES:
        raise InvalidDesign(f"queue must be one of {', '.join(QUEUE_POLICIES)}, got {values['queue']!r}")
    if not 0 <= values["overlap_share"] <= 1:
        raise InvalidDesign(f"overlap share must be between 0 and 1, got {values['overlap_share']!r}")
    for name, least in (("target_raters", 1), ("repeats", 0), ("min_overlap_raters", 2), ("min_rated_per_checkpoint", 2)):
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise InvalidDesign(f"{name.replace('_', ' ')} must be a whole number ≥ {least}, got {value!r}")


def save_design(session: Session, admin_id: int, run_id: int, **changes) -> Design:
    """Change a run's design (admins only); unknown or out-of-range settings raise InvalidDesign."""
    require_admin(session, admin_id, "change the rating design")
    get_run(session, run_id)
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise InvalidDesign(f"unknown design setting(s): {', '.join(sorted(unknown))}; known: {', '.join(SETTINGS)}")
    current = get_design(session, run_id)
    values = {name: changes.get(name, getattr(current, name)) for name in SETTINGS}
    _check(values)
    row = session.get(RatingDesign, run_id)
    if row is None:
        row = RatingDesign(run_id=run_id, seed=current.seed)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = admin_id, utcnow()
    session.flush()
    return get_design(session, run_id)


def open_for_rating(session: Session, admin_id: int, run_id: int) -> Design:
    """Make this the run raters rate (the latest opened run is the one)."""
    save_design(session, admin_id, run_id)
    session.get(RatingDesign, run_id).opened_at = utcnow()
    session.flush()
    return get_design(session, run_id)


def rating_run_id(session: Session) -> int | None:
    """The run raters rate: the one an admin opened last, else the newest run that has samples."""
    opened = session.scalar(
        select(RatingDesign.run_id).where(RatingDesign.opened_at.is_not(None))
        .order_by(RatingDesign.opened_at.desc()).limit(1)
    )
    if opened is not None:
        return int(opened)
    newest = session.scalar(
        select(func.max(Run.id)).join(Checkpoint, Checkpoint.run_id == Run.id).join(Sample, Sample.checkpoint_id == Checkpoint.id)
    )
    return None if newest is None else int(newest)
