"""URL → engine. SQLite gets foreign keys, WAL and a busy timeout on every connection."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import EmojichError

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "emojich_write"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the driver, emit BEGIN (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn) -> None:
    # Write transactions take the write lock up front (BEGIN IMMEDIATE): a deferred transaction
    # that reads and then writes fails at once with SQLITE_BUSY when another writer committed in
    # between; an immediate one waits for the busy timeout instead.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class DatabaseUrlError(EmojichError):
    pass


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for any SQLAlchemy URL; SQLite files get their folder created.

    A URL that does not parse, or names a database whose driver is not installed, is one
    DatabaseUrlError (password masked) before anything is created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError("database URL is not a SQLAlchemy URL (e.g. sqlite:///var/emojich.db, "
                               "postgresql+psycopg://user@host/db)") from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        return _make_engine(parsed, url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseUrlError(f"database {shown}: driver not available ({exc}); supported: sqlite, "
                               "postgresql+psycopg") from None


def _make_engine(parsed, url: str, **kwargs) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One short write transaction: commits on success, rolls back on any error."""
    with Session(engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session
