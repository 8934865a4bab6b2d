"""Reference examples: images an admin picked to show what a 1 and a 5 look like per criterion."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.models import REFERENCE_LEVELS, SCORE_COLUMNS, ReferenceExample, utcnow
from db.raters import require_admin
from db.samples import get_sample
from db.upsert import conflict_insert


@dataclass(frozen=True)
class Example:
    id: int
    criterion: str
    level: int
    image_sha256: str


def list_examples(session: Session) -> list[Example]:
    rows = session.execute(
        select(ReferenceExample.id, ReferenceExample.criterion, ReferenceExample.level, ReferenceExample.image_sha256)
        .order_by(ReferenceExample.criterion, ReferenceExample.level, ReferenceExample.id)
    ).all()
    return [Example(*r) for r in rows]


def add_example(session: Session, admin_id: int, criterion: str, level: int, sample_id: int) -> None:
    """Use a sample's image as an example of `level` (1 or 5) for `criterion` (admins only)."""
    require_admin(session, admin_id, "set reference examples")
    if criterion not in SCORE_COLUMNS:
        raise EmojichError(f"criterion must be one of {', '.join(SCORE_COLUMNS)}, got {criterion!r}")
    if level not in REFERENCE_LEVELS:
        raise EmojichError(f"an example shows a 1 or a 5, got {level!r}")
    sha = get_sample(session, sample_id).image_sha256
    stmt = conflict_insert(session, ReferenceExample).values(
        criterion=criterion, level=level, image_sha256=sha, rater_id=admin_id, created_at=utcnow()
    ).on_conflict_do_nothing(index_elements=["criterion", "level", "image_sha256"])
    session.execute(stmt)


def remove_example(session: Session, admin_id: int, example_id: int) -> bool:
    require_admin(session, admin_id, "remove reference examples")
    return bool(session.execute(delete(ReferenceExample).where(ReferenceExample.id == example_id)).rowcount)
