"""Run Alembic migrations from code (the CLI, tests and the demo use this)."""
from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from db.errors import EmojichError

MIGRATIONS_DIR = Path(str(importlib.resources.files("migrations")))  # the package installed beside db/


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


class UnknownRevision(EmojichError):
    pass


def check_revision(revision: str) -> None:
    """UnknownRevision unless Alembic knows `revision` (head, base, an id, a relative step): checked
    before any database is touched, so a typo creates nothing."""
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    base = re.sub(r"[+-]\d+$", "", revision)  # "0006-1": one step below 0006; "+2" / "-1": from the current one
    try:
        if base not in ("head", "heads", "base", ""):
            script.get_revisions(base)
    except CommandError as exc:
        known = ", ".join(s.revision for s in script.walk_revisions())
        raise UnknownRevision(f"unknown revision {revision!r} ({exc}); known: head, base, {known}") from None


def upgrade(url: str, revision: str = "head") -> None:
    check_revision(revision)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    check_revision(revision)
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class DatabaseNotMigrated(EmojichError):
    pass


def display_url(url) -> str:
    """The URL as users may see it (on stderr or a page): the password masked."""
    return make_url(url).render_as_string(hide_password=True)


def require_head(engine) -> None:
    """DatabaseNotMigrated (one line, naming the database) unless the schema is at the latest revision."""
    current = current_revision(engine)
    if current != head_revision():
        state = "is empty" if current is None else f"is at revision {current}"
        raise DatabaseNotMigrated(f"database {display_url(engine.url)} {state}; run `emojich db upgrade` first")
