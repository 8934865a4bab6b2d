"""Where things live: the home directory and the database URL.

Home: `--home` / `EMOJICH_HOME` (default `./var`). Database: `--db` / `EMOJICH_DB`
(default `sqlite:///<home>/emojich.db`).
"""
from __future__ import annotations

import os
from pathlib import Path


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    value = home or os.environ.get("EMOJICH_HOME") or "var"
    return Path(value).expanduser().resolve()


def resolve_db_url(db: str | None = None, home: str | os.PathLike | None = None) -> str:
    url = db or os.environ.get("EMOJICH_DB")
    if url:
        return url
    return f"sqlite:///{resolve_home(home) / 'emojich.db'}"
