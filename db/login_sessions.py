"""Remembered logins, in the database so every app server (and a restarted one) shares them.

A login makes a row: the sha256 of a session id, the rater, an expiry (12 h). The browser gets the
id as an HttpOnly cookie in two steps, so the id never passes through page scripts: the page
receives a one-time handoff code (valid 60 s, stored hashed), the browser posts it to the app
server's `/api/emojich/session` route, which swaps it for a fresh session id and sets the cookie
(workbench/app/session_routes.py). A new page session (reload, deep link, another replica)
restores the rater from the cookie with `restore`.

Logging out, `emojich raters reset-token` and deleting the rater remove the rows: the login ends on
every server at once, because each write re-checks its login with `require_live` inside its own
transaction (on PostgreSQL the row is share-locked there, so a reset waits for a write in flight
and every later write is refused).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.models import LoginSession, Rater, utcnow

LIFETIME = timedelta(hours=12)
HANDOFF_LIFETIME = timedelta(seconds=60)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")


class SessionEnded(EmojichError):
    """The login behind a page is gone (logged out elsewhere, token reset, expired)."""


@dataclass(frozen=True)
class LiveLogin:
    login_id: int
    rater_id: int
    name: str
    is_admin: bool


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def looks_like_token(value: object) -> bool:
    """A session id or handoff code as issued here (anything else is not even looked up)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def _now(now: datetime | None) -> datetime:
    return now or utcnow()


def aware(value: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they are all UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start_session(session: Session, rater_id: int, now: datetime | None = None) -> tuple[int, str]:
    """A new login for the rater: (login id, one-time handoff code for the browser's cookie).
    Until the code is claimed the row holds the hash of a random id nobody knows."""
    now = _now(now)
    session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))  # prune expired logins
    handoff = secrets.token_urlsafe(32)
    row = LoginSession(
        session_sha256=sha256_hex(secrets.token_urlsafe(32)), rater_id=rater_id, created_at=now,
        expires_at=now + LIFETIME, handoff_sha256=sha256_hex(handoff), handoff_expires_at=now + HANDOFF_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row.id, handoff


def claim_handoff(session: Session, code: object, now: datetime | None = None) -> str | None:
    """Swap a live handoff code for the session id the cookie will hold (once); None if the
    code is unknown, used or stale."""
    if not looks_like_token(code):
        return None
    now = _now(now)
    row = session.scalar(
        select(LoginSession)
        .where(LoginSession.handoff_sha256 == sha256_hex(code), LoginSession.handoff_expires_at > now,
               LoginSession.expires_at > now)
        .with_for_update()
    )
    if row is None:
        return None
    session_id = secrets.token_urlsafe(32)
    row.session_sha256, row.handoff_sha256, row.handoff_expires_at = sha256_hex(session_id), None, None
    session.flush()
    return session_id


def _live(session: Session, now: datetime, *where, lock: bool = False) -> LiveLogin | None:
    query = (
        select(LoginSession.id, Rater.id, Rater.name, Rater.is_admin)
        .join(Rater, Rater.id == LoginSession.rater_id)
        .where(LoginSession.expires_at > now, *where)
    )
    if lock:
        query = query.with_for_update(read=True, of=LoginSession)
    row = session.execute(query).first()
    return LiveLogin(row[0], row[1], row[2], bool(row[3])) if row else None


def restore(session: Session, session_id: object, now: datetime | None = None) -> LiveLogin | None:
    """The live login a browser's cookie stands for, or None."""
    if not looks_like_token(session_id):
        return None
    return _live(session, _now(now), LoginSession.session_sha256 == sha256_hex(session_id))


def check_live(session: Session, login_id: int | None, now: datetime | None = None) -> LiveLogin | None:
    if not isinstance(login_id, int):
        return None
    return _live(session, _now(now), LoginSession.id == login_id)


def require_live(session: Session, login_id: int | None, now: datetime | None = None) -> LiveLogin:
    """Call first in every write transaction a person makes: the login must still exist.
    Share-locks the row (PostgreSQL) so that ending the login waits for this transaction."""
    login = _live(session, _now(now), LoginSession.id == login_id, lock=True) if isinstance(login_id, int) else None
    if login is None:
        raise SessionEnded(
            "your login has ended (you logged out elsewhere, your token was reset, or 12 hours passed); "
            "nothing was saved: log in again"
        )
    return login


def end_session(session: Session, login_id: int | None) -> None:
    if isinstance(login_id, int):
        session.execute(delete(LoginSession).where(LoginSession.id == login_id))


def end_session_by_cookie(session: Session, session_id: object) -> None:
    if looks_like_token(session_id):
        session.execute(delete(LoginSession).where(LoginSession.session_sha256 == sha256_hex(session_id)))


def end_rater_sessions(session: Session, rater_id: int) -> int:
    """Every login of the rater ends (token reset). Returns how many there were."""
    return int(session.execute(delete(LoginSession).where(LoginSession.rater_id == rater_id)).rowcount or 0)
