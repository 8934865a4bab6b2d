"""Text limits that hold the same on SQLite and PostgreSQL, checked before anything is written.

SQLite stores a 300-character rater name in a VARCHAR(100) and text with NUL characters;
PostgreSQL refuses both, after whatever came before was done. Here every String(n) column's limit
is checked in Python: query modules call `check_text` first (a clear message naming the field),
and a `before_flush` hook checks every ORM row as a safety net, so no write ever reaches either
database with text that only one of them accepts.
"""
from __future__ import annotations

from sqlalchemy import String, event
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.models import Base

LABELS = {
    ("raters", "name"): "rater name",
    ("runs", "name"): "run name",
    ("prompts", "text"): "prompt",
    ("prompt_sets", "name"): "prompt set name",
    ("dataset_items", "caption"): "caption",
    ("dataset_items", "file"): "file name",
    ("dataset_items", "dataset"): "dataset name",
    ("metrics", "name"): "metric name",
}


class TextTooLong(EmojichError):
    pass


def limit_of(model: type[Base], column: str) -> int | None:
    """The length limit of a String(n) column (None for unlimited text)."""
    col = model.__table__.c.get(column)
    return col.type.length if col is not None and isinstance(col.type, String) else None


def text_problem(model: type[Base], column: str, value: object) -> str | None:
    """Why `value` cannot be stored in `model.column` on both databases, or None."""
    if not isinstance(value, str):
        return None
    label = LABELS.get((model.__tablename__, column), f"{model.__tablename__}.{column}")
    if "\x00" in value:
        return f"{label} contains a NUL character, which PostgreSQL cannot store"
    limit = limit_of(model, column)
    if limit is not None and len(value) > limit:
        return f"{label} is {len(value):,} characters long; at most {limit:,} fit"
    return None


def check_text(model: type[Base], **values: object) -> None:
    """Raise TextTooLong (nothing written) for the first value that does not fit its column."""
    for column, value in values.items():
        problem = text_problem(model, column, value)
        if problem:
            raise TextTooLong(f"{problem}; nothing was saved")


def check_row(row: Base) -> None:
    mapper = type(row)
    for column in mapper.__table__.columns:
        if isinstance(column.type, String) and column.key in row.__dict__:
            check_text(mapper, **{column.key: row.__dict__[column.key]})


@event.listens_for(Session, "before_flush")
def _check_rows_before_flush(session: Session, _context, _instances) -> None:
    for row in (*session.new, *session.dirty):
        if isinstance(row, Base):
            check_row(row)
