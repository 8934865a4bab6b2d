"""PostgreSQL connections in the pool: a connection used a moment ago goes out without a ping (one round
trip fewer for every page read and save), one that sat idle is pinged and replaced when the server dropped
it, and a connection lost in use is one clear line for the person, after which the next request works."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

import db.engine
from db.engine import database_trouble, make_engine, read_session

pytestmark = pytest.mark.postgres


@pytest.fixture
def counted(pg_url, monkeypatch):
    engine = make_engine(pg_url)
    pings = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: (pings.append(1), real(conn))[1])
    yield engine, pings
    engine.dispose()


def _backend_pid(engine) -> int:
    with read_session(engine) as s:
        return s.scalar(text("SELECT pg_backend_pid()"))


def _terminate(pg_url, pid: int) -> None:
    killer = make_engine(pg_url)
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(counted):
    engine, pings = counted
    for _ in range(5):
        _backend_pid(engine)
    assert pings == []


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_when_dropped(counted, pg_url, monkeypatch):
    engine, pings = counted
    first = _backend_pid(engine)
    _terminate(pg_url, first)  # what an idle timeout, a proxy or a server restart does
    monkeypatch.setattr(db.engine, "PING_AFTER_IDLE_S", 0.0)
    second = _backend_pid(engine)  # no error: the ping found it dead and the pool connected again
    assert second != first and len(pings) == 1


def test_a_connection_lost_in_use_is_one_line_and_the_next_request_works(counted, pg_url):
    engine, _ = counted
    _terminate(pg_url, _backend_pid(engine))
    with pytest.raises(OperationalError) as caught:
        _backend_pid(engine)
    message = database_trouble(caught.value)
    assert message is not None and "\n" not in message
    assert "connection to the database was lost" in message and "Nothing was saved" in message
    assert _backend_pid(engine) > 0  # the pool dropped its dead connections


def test_other_database_errors_are_not_called_trouble(pg_engine):
    with pg_engine.connect() as conn:
        conn.execute(text("SET statement_timeout = 1"))
        with pytest.raises(OperationalError) as caught:
            conn.execute(text("SELECT pg_sleep(1)"))
    assert database_trouble(caught.value) is None
