"""INSERT … ON CONFLICT for the two supported databases (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.errors import EmojichError

_INSERTS = {"sqlite": sqlite_insert, "postgresql": pg_insert}


def conflict_insert(session: Session, model):
    """An INSERT for `model` that offers `on_conflict_do_nothing` / `on_conflict_do_update`."""
    dialect = session.get_bind().dialect.name
    try:
        return _INSERTS[dialect](model)
    except KeyError:
        raise EmojichError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL") from None
