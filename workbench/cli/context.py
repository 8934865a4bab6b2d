"""What every command shares: the resolved home folder, the database URL and a lazy engine."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from db.engine import make_engine
from db.errors import EmojichError
from db.home import resolve_db_url, resolve_home


@dataclass
class AppContext:
    home: Path
    db_url: str
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, home: str | None = None, db: str | None = None) -> AppContext:
        resolved = resolve_home(home)
        return cls(home=resolved, db_url=resolve_db_url(db, resolved))

    @property
    def engine(self) -> Engine:
        """The engine, after checking the schema is migrated (one clear message if not)."""
        if self._engine is None:
            from db.migrate import require_head

            engine = make_engine(self.db_url)
            try:
                require_head(engine)
            except EmojichError:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine
