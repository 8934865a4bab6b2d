"""Raters and their access tokens (one-time tokens, stored only as salted scrypt hashes)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import login_limits
from db.errors import EmojichError, InvalidToken, PermissionDenied, RaterNotFound
from db.ids import parse_id
from db.limits import check_text
from db.login_sessions import end_rater_sessions
from db.models import Rater

TOKEN_PREFIX = "emj"
TOKEN_LIMIT = 200  # issued tokens are about 40 characters
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class RaterExists(EmojichError):
    pass


def hash_token(token: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` (hex): a slow, salted hash; the token itself is never stored."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_token(token: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(token.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


def _new_token(rater_id: int) -> str:
    # The rater id travels in the token so login checks one hash, not every rater's.
    return f"{TOKEN_PREFIX}_{rater_id}_{secrets.token_urlsafe(24)}"


def add_rater(session: Session, name: str, *, is_admin: bool = False) -> tuple[Rater, str]:
    """Create a rater; returns the row and the one-time token (shown once, never stored)."""
    name = name.strip()
    if not name:
        raise EmojichError("a rater needs a non-empty name")
    check_text(Rater, name=name)
    if session.scalar(select(Rater.id).where(Rater.name == name)) is not None:
        raise RaterExists(f"rater {name!r} already exists; pick another name or reset their token")
    rater = Rater(name=name, token_hash="pending", is_admin=is_admin)
    session.add(rater)
    try:
        session.flush()
    except IntegrityError as exc:
        raise RaterExists(f"rater {name!r} already exists") from exc
    token = _new_token(rater.id)
    rater.token_hash = hash_token(token)
    session.flush()
    return rater, token


def reset_token(session: Session, name: str) -> str:
    """A new token for the rater: the old one stops working, every login made with it ends on
    every app server (db/login_sessions.py) and the rater's failed-login count is cleared."""
    rater = get_rater_by_name(session, name)
    token = _new_token(rater.id)
    rater.token_hash = hash_token(token)
    end_rater_sessions(session, rater.id)
    login_limits.clear(session, login_limits.rater_key(rater.id))
    session.flush()
    return token


def token_rater_id(token: str | None) -> int | None:
    """The rater id a token names (they look like emj_12_…), or None if it is not a token."""
    parts = (token or "").strip().split("_", 2)
    return parse_id(parts[1]) if len(parts) == 3 and parts[0] == TOKEN_PREFIX else None


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash no token matches, with the real parameters: checked when a token names no rater,
    so an unknown id costs the same scrypt as a known one and timing tells nothing."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_token(secrets.token_urlsafe(24)))
    return _DUMMY_HASH[0]


def authenticate(session: Session, token: str | None) -> Rater:
    """The rater a token belongs to, or InvalidToken with a message fit for the login form.
    Every token-shaped or malformed attempt does exactly one scrypt (constant work)."""
    token = (token or "").strip()
    if not token:
        raise InvalidToken("enter the access token printed by `emojich raters add`")
    if len(token) > TOKEN_LIMIT:
        raise InvalidToken("that is not an access token (they look like emj_12_…)")
    rater_id = token_rater_id(token)
    rater = session.get(Rater, rater_id) if rater_id is not None else None
    usable = rater is not None and rater.token_hash.startswith("scrypt$")
    matches = verify_token(token, rater.token_hash if usable else _dummy_hash())
    if rater_id is None:
        raise InvalidToken("that is not an access token (they look like emj_12_…)")
    if rater is None or not matches:
        raise InvalidToken("unknown or revoked access token; ask an admin for a new one")
    return rater


def get_rater(session: Session, rater_id: int) -> Rater:
    rater = session.get(Rater, rater_id)
    if rater is None:
        raise RaterNotFound(f"rater {rater_id} not found")
    return rater


def get_rater_by_name(session: Session, name: str) -> Rater:
    rater = session.scalar(select(Rater).where(Rater.name == name))
    if rater is None:
        raise RaterNotFound(f"rater {name!r} not found")
    return rater


def list_raters(session: Session) -> list[Rater]:
    return list(session.scalars(select(Rater).order_by(Rater.id)))


def require_admin(session: Session, rater_id: int, action: str) -> Rater:
    rater = get_rater(session, rater_id)
    if not rater.is_admin:
        raise PermissionDenied(f"only an admin can {action}; {rater.name} is a rater")
    return rater


def ensure_admin_token(session: Session, name: str) -> str:
    """A fresh token for admin `name`, created as an admin when missing (what the demo prints)."""
    if session.scalar(select(Rater.id).where(Rater.name == name)) is not None:
        return reset_token(session, name)
    return add_rater(session, name, is_admin=True)[1]
