"""Login throttling, per rater and per client, shared by every app server (table `login_throttle`).

Each attempt is counted as a failure before its token is checked (so parallel guesses see each
other) and taken back when the token was right. The first FREE_FAILURES failures of a key cost
nothing; after that an attempt must wait 1, 2, 4 … s (at most MAX_DELAY_S) after the previous
failure, and LOCK_AFTER failures lock the key for LOCK_FOR after the last one. A key's count is
forgotten FORGET_AFTER after its last failure. A refused attempt does no token work and is not
counted. `emojich raters reset-token` clears the rater's key.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from db.errors import InvalidToken
from db.login_sessions import aware
from db.models import LoginThrottle, utcnow
from db.upsert import conflict_insert

FREE_FAILURES = 3
MAX_DELAY_S = 60
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
FORGET_AFTER = timedelta(minutes=15)
KEY_LIMIT = 200  # login_throttle.key


class LoginThrottled(InvalidToken):
    """Too many failed logins: wait `retry_after_s` (a delay, or the key is locked)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def rater_key(rater_id: int) -> str:
    return f"rater:{rater_id}"


def client_key(client: str) -> str:
    return f"client:{client}"[:KEY_LIMIT]


def delay_after(failures: int) -> timedelta:
    """How long after the last failure the next attempt must wait, given the failures so far."""
    if failures >= LOCK_AFTER:
        return LOCK_FOR
    if failures < FREE_FAILURES:
        return timedelta(0)
    return timedelta(seconds=min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S))


def _refuse_if_limited(row: LoginThrottle, now: datetime) -> None:
    ready = aware(row.last_failure_at) + delay_after(row.failures)
    if ready <= now:
        return
    wait = math.ceil((ready - now).total_seconds())
    who = "for this token" if row.key.startswith("rater:") else "from this address"
    if row.failures >= LOCK_AFTER:
        remedy = ", or ask an admin for a new token" if row.key.startswith("rater:") else ""
        raise LoginThrottled(f"login locked {who} after {row.failures} failed attempts: try again in "
                             f"{math.ceil(wait / 60)} min{remedy}", wait)
    raise LoginThrottled(f"too many failed logins {who}: wait {wait} s before trying again", wait)


def begin_attempt(session: Session, keys: Sequence[str], now: datetime | None = None) -> None:
    """Refuse the attempt (LoginThrottled) if a key must still wait or is locked; else count it
    as a failure of every key until `attempt_succeeded` says otherwise. Call in its own short
    write transaction, before the token is checked."""
    now = now or utcnow()
    for key in keys:
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        if row is None:
            continue
        if aware(row.last_failure_at) + FORGET_AFTER <= now and aware(row.last_failure_at) + delay_after(row.failures) <= now:
            row.failures = 0
            session.flush()
            continue
        _refuse_if_limited(row, now)
    failures = LoginThrottle.__table__.c.failures
    for key in keys:
        session.execute(
            conflict_insert(session, LoginThrottle)
            .values(key=key, failures=1, last_failure_at=now)
            .on_conflict_do_update(index_elements=["key"], set_={"failures": failures + 1, "last_failure_at": now})
        )


def attempt_succeeded(session: Session, keys: Sequence[str]) -> None:
    """The token was right: the rater's count is cleared, the client's attempt taken back."""
    for key in keys:
        if key.startswith("rater:"):
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
        else:
            session.execute(
                update(LoginThrottle).where(LoginThrottle.key == key, LoginThrottle.failures > 0)
                .values(failures=LoginThrottle.failures - 1)
            )


def failures(session: Session, key: str) -> int:
    row = session.get(LoginThrottle, key, populate_existing=True)
    return 0 if row is None else row.failures


def clear(session: Session, key: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
