"""SQLite pragmas on every connection, and concurrent writers that wait instead of failing."""
from __future__ import annotations

import threading

from sqlalchemy import text

from db.engine import make_engine, write_session
from db.runs import add_metrics, add_run


def test_sqlite_pragmas(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_foreign_keys_enforced(engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from db.models import Checkpoint

    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Checkpoint(run_id=12345, step=0, epoch=0.0))


def test_concurrent_writers_all_land(db_url):
    """Eight threads with their own engines write at once; each read-then-write waits its turn."""
    setup = make_engine(db_url)
    with write_session(setup) as s:
        run_id = add_run(s, "concurrent", {}).id
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        engine = make_engine(db_url)
        try:
            for step in range(10):
                with write_session(engine) as s:
                    s.execute(text("SELECT count(*) FROM metrics")).scalar()
                    add_metrics(s, run_id, step * 100 + i, {"loss": float(i)})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with setup.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metrics")).scalar() == 80
    setup.dispose()


def test_metrics_upsert_overwrites_same_step(engine):
    with write_session(engine) as s:
        run_id = add_run(s, "r", {}).id
        add_metrics(s, run_id, 10, {"loss": 1.0, "lr": 1e-5})
    with write_session(engine) as s:
        add_metrics(s, run_id, 10, {"loss": 0.5})
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, value FROM metrics ORDER BY name")).all()
    assert rows == [("loss", 0.5), ("lr", 1e-5)]


def test_a_write_lock_held_past_the_timeout_is_one_line(db_url, monkeypatch):
    """SQLite: a writer that cannot get the lock in time gets the page's one line, not a traceback."""
    import sqlite3

    import pytest
    from sqlalchemy.exc import OperationalError

    import db.engine
    from db.engine import database_trouble

    monkeypatch.setattr(db.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    engine = make_engine(db_url)
    try:
        with pytest.raises(OperationalError) as caught, write_session(engine) as s:
            s.execute(text("SELECT 1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    message = database_trouble(caught.value)
    assert message is not None and "\n" not in message
    assert message.startswith("The database is busy") and "Nothing was saved" in message
