"""Remembered logins: a reload in the same browser session keeps the rater logged in.

After a login the browser gets a random session id as a session cookie (no expiry: it ends with
the browser session). The server keeps only sha256(id) → (rater id, the token hash it was issued
under, expiry), in memory. A new Streamlit session (a reload, a deep link) restores the rater when
the id maps to a live entry and the rater still has that token (`emojich raters reset-token`
ends their remembered sessions). Logging out forgets the entry.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from db.errors import RaterNotFound
from db.models import Rater
from db.raters import get_rater

COOKIE_NAME = "emojich_session"
LIFETIME_S = 12 * 3600
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,128}")


@dataclass(frozen=True)
class Remembered:
    rater_id: int
    token_hash: str
    expires_at: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def looks_like_session_id(value: object) -> bool:
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None


class SessionStore:
    """Process-wide map sha256(session id) → Remembered; safe to share between threads."""

    def __init__(self, lifetime_s: float = LIFETIME_S) -> None:
        self.lifetime_s = lifetime_s
        self._entries: dict[str, Remembered] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def issue(self, rater_id: int, token_hash: str, now: float) -> str:
        """A new session id for the browser (only its hash is kept here)."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            for key in [k for k, entry in self._entries.items() if entry.expires_at <= now]:
                del self._entries[key]
            self._entries[_key(session_id)] = Remembered(rater_id, token_hash, now + self.lifetime_s)
        return session_id

    def lookup(self, session_id: object, now: float) -> Remembered | None:
        if not looks_like_session_id(session_id):
            return None
        key = _key(session_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires_at <= now:
                del self._entries[key]
                entry = None
        return entry

    def forget(self, session_id: object) -> None:
        if looks_like_session_id(session_id):
            with self._lock:
                self._entries.pop(_key(session_id), None)


def restore(store: SessionStore, session_id: object, session: Session, now: float) -> Rater | None:
    """The rater a remembered session id stands for, or None (unknown, expired, rater deleted,
    or their token reset since); a stale entry is forgotten."""
    entry = store.lookup(session_id, now)
    if entry is None:
        return None
    try:
        rater = get_rater(session, entry.rater_id)
    except RaterNotFound:
        rater = None
    if rater is None or rater.token_hash != entry.token_hash:
        store.forget(session_id)
        return None
    return rater
