"""Raters and their access tokens (one-time tokens, stored only as salted scrypt hashes)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import EmojichError, InvalidToken, PermissionDenied, RaterNotFound
from db.ids import parse_id
from db.models import Rater

TOKEN_PREFIX = "emj"
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
    rater = get_rater_by_name(session, name)
    token = _new_token(rater.id)
    rater.token_hash = hash_token(token)
    session.flush()
    return token


def authenticate(session: Session, token: str | None) -> Rater:
    """The rater a token belongs to, or InvalidToken with a message fit for the login form."""
    token = (token or "").strip()
    if not token:
        raise InvalidToken("enter the access token printed by `emojich raters add`")
    parts = token.split("_", 2)
    rater_id = parse_id(parts[1]) if len(parts) == 3 and parts[0] == TOKEN_PREFIX else None
    if rater_id is None:
        raise InvalidToken("that is not an access token (they look like emj_12_…)")
    rater = session.get(Rater, rater_id)
    if rater is None or not verify_token(token, rater.token_hash):
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
