"""Logins in the database (db/login_sessions.py) and login throttling (db/login_limits.py, db/login.py),
on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from db import login_limits, login_sessions
from db.engine import make_engine, read_session, write_session
from db.errors import InvalidToken
from db.login import log_in
from db.login_limits import LoginThrottled
from db.login_sessions import SessionEnded
from db.migrate import downgrade, upgrade
from db.models import LoginSession, LoginThrottle, Rater, utcnow
from db.raters import add_rater, reset_token


def _raters(engine, *names):
    with write_session(engine) as s:
        made = [add_rater(s, name) for name in names]
        return [(r.id, token) for r, token in made]


def _claim(engine, handoff, now=None):
    with write_session(engine) as s:
        return login_sessions.claim_handoff(s, handoff, now)


def _require(engine, login_id, now=None):
    with write_session(engine) as s:
        return login_sessions.require_live(s, login_id, now)


def check_a_login_lives_in_the_database_and_ends_everywhere(engine):
    (alice_id, alice_token), (bob_id, bob_token) = _raters(engine, "alice", "bob")
    first = log_in(engine, alice_token, "10.0.0.1")
    assert (first.rater_id, first.name, first.is_admin) == (alice_id, "alice", False)
    cookie = _claim(engine, first.handoff)
    assert login_sessions.looks_like_token(cookie) and cookie != first.handoff
    assert _claim(engine, first.handoff) is None  # a handoff code works once
    with read_session(engine) as s:
        row = s.get(LoginSession, first.login_id)
        assert row.session_sha256 == hashlib.sha256(cookie.encode()).hexdigest() and row.handoff_sha256 is None
        stored = " ".join(str(v) for v in s.execute(select(LoginSession.__table__)).one())
        assert cookie not in stored and first.handoff not in stored  # only hashes are kept
        assert login_sessions.restore(s, cookie).login_id == first.login_id  # another server, a reload
        assert login_sessions.restore(s, cookie + "x") is None and login_sessions.restore(s, "'; drop") is None
    assert _require(engine, first.login_id).rater_id == alice_id

    second = log_in(engine, alice_token, "10.0.0.2")  # another browser
    bobs = log_in(engine, bob_token, "10.0.0.3")
    with write_session(engine) as s:
        reset_token(s, "alice")  # `emojich raters reset-token alice`
    for login_id in (first.login_id, second.login_id):
        with pytest.raises(SessionEnded, match="log in again"):
            _require(engine, login_id)
    with read_session(engine) as s:
        assert login_sessions.restore(s, cookie) is None
    assert _require(engine, bobs.login_id).name == "bob"  # other raters stay logged in
    with write_session(engine) as s:
        login_sessions.end_session(s, bobs.login_id)  # log out
    with pytest.raises(SessionEnded):
        _require(engine, bobs.login_id)


def check_logins_expire_and_stale_handoffs_fail(engine):
    [(rater_id, token)] = _raters(engine, "carol")
    now = utcnow()
    logged = log_in(engine, token, "c", now=now)
    assert _claim(engine, logged.handoff, now + login_sessions.HANDOFF_LIFETIME) is None  # too late
    assert _require(engine, logged.login_id, now + timedelta(hours=11)).rater_id == rater_id
    with pytest.raises(SessionEnded):
        _require(engine, logged.login_id, now + login_sessions.LIFETIME)
    with write_session(engine) as s:  # a new login prunes expired rows
        login_sessions.start_session(s, rater_id, now + login_sessions.LIFETIME + timedelta(seconds=1))
    with read_session(engine) as s:
        assert s.get(LoginSession, logged.login_id) is None
    with write_session(engine) as s:  # deleting a rater ends their logins (ON DELETE CASCADE)
        s.delete(s.get(Rater, rater_id))
    with read_session(engine) as s:
        assert s.scalars(select(LoginSession)).all() == []


def check_attempts_are_throttled_then_locked_and_said_so(engine):
    [(rater_id, token)] = _raters(engine, "dave")
    now = utcnow()
    wrong = f"emj_{rater_id}_not-the-token"
    for i in range(login_limits.FREE_FAILURES):  # the first failures cost nothing
        with pytest.raises(InvalidToken, match="unknown or revoked"):
            log_in(engine, wrong, f"client-{i}", now=now)
    with pytest.raises(LoginThrottled, match="for this token: wait 1 s") as refused:
        log_in(engine, token, "client-x", now=now)  # even the right token waits: no token work done
    assert refused.value.retry_after_s == 1
    t = now
    for failures in range(login_limits.FREE_FAILURES, login_limits.LOCK_AFTER):
        t += login_limits.delay_after(failures)  # wait exactly as long as asked, then fail again
        with pytest.raises(InvalidToken, match="unknown or revoked"):
            log_in(engine, wrong, "client-y", now=t)
    assert [login_limits.delay_after(f).total_seconds() for f in range(3, 10)] == [1, 2, 4, 8, 16, 32, 60]
    with pytest.raises(LoginThrottled, match="login locked for this token after 10 failed attempts: try again in 15 min"):
        log_in(engine, token, "client-z", now=t + timedelta(seconds=1))
    logged = log_in(engine, token, "client-z", now=t + login_limits.LOCK_FOR)  # the lock ends
    assert logged.rater_id == rater_id
    with read_session(engine) as s:
        assert s.get(LoginThrottle, login_limits.rater_key(rater_id)) is None  # a success clears the rater's count


def check_one_client_guessing_many_ids_is_throttled_too(engine):
    [(_, token)] = _raters(engine, "erin")
    now = utcnow()
    for rater_id in range(1000, 1000 + login_limits.FREE_FAILURES):  # ids that do not exist
        with pytest.raises(InvalidToken, match="unknown or revoked"):
            log_in(engine, f"emj_{rater_id}_guess", "203.0.113.9", now=now)
    with pytest.raises(LoginThrottled, match="from this address: wait 1 s"):
        log_in(engine, "emj_2000_guess", "203.0.113.9", now=now)
    assert log_in(engine, token, "198.51.100.1", now=now).name == "erin"  # another client is not affected
    with write_session(engine) as s:
        reset_token(s, "erin")  # an admin's reset also clears the rater's lock
        assert login_limits.failures(s, login_limits.rater_key(1000)) == 1


def check_unknown_ids_cost_the_same_scrypt_as_known_ones(engine, monkeypatch):
    """Timing must not tell which ids exist: every token-shaped or malformed attempt runs exactly
    one scrypt with the real parameters (counted, not timed)."""
    import db.raters

    [(rater_id, _)] = _raters(engine, "fay")
    calls = []
    real = hashlib.scrypt

    def counting(password, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"], len(kwargs["salt"])))
        return real(password, **kwargs)

    monkeypatch.setattr(db.raters.hashlib, "scrypt", counting)
    db.raters._dummy_hash()  # made once per process, before the attempts
    calls.clear()
    for i, token in enumerate([f"emj_{rater_id}_wrong", "emj_987654_wrong", "emj_x_y", "not-a-token", "emj_1_2_3"]):
        with pytest.raises(InvalidToken):
            log_in(engine, token, f"client-{i}")
    assert len(calls) == 5 and len(set(calls)) == 1 and calls[0][:3] == (2**14, 8, 1)


@pytest.mark.parametrize("check", [
    check_a_login_lives_in_the_database_and_ends_everywhere,
    check_logins_expire_and_stale_handoffs_fail,
    check_attempts_are_throttled_then_locked_and_said_so,
    check_one_client_guessing_many_ids_is_throttled_too,
], ids=lambda f: f.__name__.removeprefix("check_"))
def test_on_sqlite(check, engine):
    check(engine)


def test_scrypt_work_is_constant(engine, monkeypatch):
    check_unknown_ids_cost_the_same_scrypt_as_known_ones(engine, monkeypatch)


@pytest.fixture
def pg_engine(pg_url):
    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("check", [
    check_a_login_lives_in_the_database_and_ends_everywhere,
    check_logins_expire_and_stale_handoffs_fail,
    check_attempts_are_throttled_then_locked_and_said_so,
    check_one_client_guessing_many_ids_is_throttled_too,
], ids=lambda f: f.__name__.removeprefix("check_"))
def test_on_postgres(check, pg_engine):
    check(pg_engine)


@pytest.mark.postgres
def test_a_token_reset_waits_for_a_write_in_flight_then_refuses_the_next(pg_engine):
    """The write re-checks its login under a share lock: the reset cannot slip in between the
    check and the commit, and once it commits the next write is refused."""
    import threading

    [(_, token)] = _raters(pg_engine, "gus")
    logged = log_in(pg_engine, token, "c")
    reset_done = threading.Event()
    with write_session(pg_engine) as s:
        login_sessions.require_live(s, logged.login_id)

        def reset():
            with write_session(pg_engine) as other:
                reset_token(other, "gus")
            reset_done.set()

        thread = threading.Thread(target=reset)
        thread.start()
        assert _some_backend_waits_on_a_lock(pg_engine)  # the reset, behind this transaction's share lock
        assert not reset_done.is_set()
    thread.join(60)
    assert reset_done.is_set()
    with pytest.raises(SessionEnded):
        _require(pg_engine, logged.login_id)


def _some_backend_waits_on_a_lock(engine, patience_s: float = 60) -> bool:
    import time

    deadline = time.monotonic() + patience_s
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM login_sessions%%'"
            ).scalar()
            conn.rollback()  # a fresh snapshot of pg_stat_activity each time
            if waiting:
                return True
            time.sleep(0.05)
    return False
