"""INSERT … ON CONFLICT for the two supported databases (SQLite and PostgreSQL)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable

from db.errors import EmojichError

_INSERTS = {"sqlite": sqlite_insert, "postgresql": pg_insert}
# The dialects without driver-specific rendering (psycopg's adds `::TYPE` casts after each parameter).
_PLAIN_DIALECTS = {"sqlite": SQLiteDialect, "postgresql": PGDialect}
_PREPARED: dict[tuple[str, str], TextClause] = {}


def conflict_insert(session: Session, model):
    """An INSERT for `model` that offers `on_conflict_do_nothing` / `on_conflict_do_update`."""
    dialect = session.get_bind().dialect.name
    try:
        return _INSERTS[dialect](model)
    except KeyError:
        raise EmojichError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL") from None


def prepared(session: Session, key: str, build: Callable[[Session], Executable | list[Executable]]) -> TextClause:
    """`build(session)`'s statement, compiled once per database kind and kept as SQL text with typed
    parameters. SQLAlchemy never caches its dialects' INSERT … ON CONFLICT constructs
    (`inherit_cache = False`): it compiled the rating save's three upserts on every save, 60 % of
    the save's CPU (bench/bench_save.py). Build with `bindparam(name)` for every value that varies.

    On PostgreSQL `build` may return several data-modifying statements: they run as one, the first
    ones as WITH steps (one round trip instead of several; they share one snapshot, so none may
    need to see another's effect)."""
    dialect = session.get_bind().dialect
    cache_key = (dialect.name, key)
    statement = _PREPARED.get(cache_key)
    if statement is None:
        built = build(session)
        steps = list(built) if isinstance(built, list | tuple) else [built]
        if len(steps) > 1 and dialect.name != "postgresql":
            raise ValueError("several statements in one are for PostgreSQL only")
        plain = _PLAIN_DIALECTS[dialect.name](paramstyle="named")
        sql, binds = [], {}
        for step in steps:
            compiled = step.compile(dialect=plain)
            sql.append(compiled.string)
            for bind, name in compiled.bind_names.items():
                fixed = bind.value is not None or bind.callable is not None
                made = bindparam(name, value=bind.value, type_=bind.type) if fixed else bindparam(name, type_=bind.type)
                if name in binds and (binds[name].value != made.value or fixed != (binds[name].value is not None)):
                    raise ValueError(f"parameter {name} means two things in {key}")
                binds[name] = made
        joined = sql[-1] if len(sql) == 1 else (
            "WITH " + ", ".join(f"step_{i} AS ({part})" for i, part in enumerate(sql[:-1])) + " " + sql[-1])
        statement = _PREPARED[cache_key] = text(joined).bindparams(*binds.values())
    return statement
