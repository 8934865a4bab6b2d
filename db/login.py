"""One login attempt, end to end: throttle (db/login_limits.py), constant-work token check
(db/raters.py), then a remembered login row (db/login_sessions.py).

Three short transactions: the 64 ms scrypt runs between them, never while a write lock is held.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from db import login_limits, login_sessions
from db.engine import read_session, write_session
from db.errors import InvalidToken
from db.models import Rater, utcnow
from db.raters import authenticate, token_rater_id


@dataclass(frozen=True)
class LoggedIn:
    login_id: int
    handoff: str  # one-time code the browser trades for its HttpOnly session cookie
    rater_id: int
    name: str
    is_admin: bool


def log_in(engine: Engine, token: str | None, client: str, now: datetime | None = None) -> LoggedIn:
    """Check a token typed on the login form from `client` (an address); InvalidToken (or its
    LoginThrottled) with a message for the page when it is refused."""
    if not (token or "").strip():
        raise InvalidToken("enter the access token printed by `emojich raters add`")
    now = now or utcnow()
    rater_id = token_rater_id(token)
    keys = [login_limits.client_key(client)] + ([login_limits.rater_key(rater_id)] if rater_id is not None else [])
    with write_session(engine) as session:
        login_limits.begin_attempt(session, keys, now)
    with read_session(engine) as session:
        rater = authenticate(session, token)  # raises InvalidToken: the attempt stays counted
        token_hash = rater.token_hash
    with write_session(engine) as session:
        current = session.get(Rater, rater.id)
        if current is None or current.token_hash != token_hash:  # reset or deleted meanwhile
            raise InvalidToken("unknown or revoked access token; ask an admin for a new one")
        login_limits.attempt_succeeded(session, keys)
        login_id, handoff = login_sessions.start_session(session, rater.id, now)
        return LoggedIn(login_id, handoff, current.id, current.name, bool(current.is_admin))
