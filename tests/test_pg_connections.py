"""PostgreSQL connections the server drops: one dropped while it sat in the pool is replaced without an
error; one lost in use, or a server that refuses connections, is one clear line for the person, and the
next request after a lost connection works."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from db.engine import database_trouble, make_engine, read_session

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url):
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with read_session(engine) as s:
        return s.scalar(text("SELECT pg_backend_pid()"))


def _terminate(pg_url, pid: int) -> None:
    killer = make_engine(pg_url)
    with killer.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    killer.dispose()


def test_a_connection_dropped_in_the_pool_is_replaced_without_an_error(engine, pg_url):
    first = _backend_pid(engine)
    _terminate(pg_url, first)  # what an idle timeout, a proxy or a server restart does
    assert _backend_pid(engine) != first


def test_a_connection_lost_in_use_is_one_line_and_the_next_request_works(engine, pg_url):
    with pytest.raises(OperationalError) as caught, read_session(engine) as s:
        _terminate(pg_url, s.scalar(text("SELECT pg_backend_pid()")))
        s.execute(text("SELECT 1"))
    assert caught.value.connection_invalidated  # SQLAlchemy saw a disconnect and dropped the pool's connections
    message = database_trouble(caught.value)
    assert message is not None and "\n" not in message
    assert "connection to the database was lost" in message and "may not have been saved" in message
    assert _backend_pid(engine) > 0


def test_a_server_that_refuses_connections_is_one_line():
    from tests.pg_server import _free_port

    nowhere = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/postgres")
    with pytest.raises(OperationalError) as caught:
        _backend_pid(nowhere)
    nowhere.dispose()
    message = database_trouble(caught.value)
    assert message is not None and "\n" not in message
    assert message.startswith("The database cannot be reached right now") and "Nothing was saved" in message


def test_other_database_errors_are_not_called_trouble(engine):
    with engine.connect() as conn:
        conn.execute(text("SET statement_timeout = 1"))
        with pytest.raises(OperationalError) as caught:
            conn.execute(text("SELECT pg_sleep(1)"))
    assert database_trouble(caught.value) is None
