"""The one place that knows the on-disk layout of a home folder.

    <home>/emojich.db                       SQLite database (default; any SQLAlchemy URL through --db / EMOJICH_DB)
    <home>/datasets/<name>/                 a dataset folder (rgba/, rgb/, mask/, metadata.jsonl, ...)
    <home>/checkpoints/<run>/step_<n>.pt    fine-tuning checkpoints
    <home>/models/segmentation/round_<n>.pt U-Net rounds
    <home>/models/rudalle/                  pretrained weights in rudalle's cache layout
    <home>/models/<cache_dir>/              a tiny config's tokenizer and VAE (e.g. models/tiny)

Home: `--home` / `EMOJICH_HOME` (default `./var`). Paths stored in the database are relative to the home
(`Home.to_stored` / `Home.from_stored`), so a copied or moved home reads its own files; a stored path that
points outside the home is refused with one line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from db.errors import EmojichError

DB_FILE = "emojich.db"


class OutsideHome(EmojichError):
    pass


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | Home | None = None) -> Home:
        if isinstance(home, Home):
            return home
        value = home or os.environ.get("EMOJICH_HOME") or "var"
        return cls(Path(value).expanduser().resolve())

    # ------------------------------------------------------------------ database
    def db_url(self, db: str | None = None) -> str:
        """`db`, else EMOJICH_DB, else the home's SQLite file."""
        return db or os.environ.get("EMOJICH_DB") or f"sqlite:///{self.root / DB_FILE}"

    # ------------------------------------------------------------------ folders
    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    def dataset(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise EmojichError(f"invalid dataset name {name!r}")
        return self.datasets / name

    def checkpoint(self, run_name: str, step: int) -> Path:
        if not run_name or "/" in run_name or run_name in (".", ".."):
            raise EmojichError(f"invalid run name {run_name!r}")
        return self.root / "checkpoints" / run_name / f"step_{int(step)}.pt"

    @property
    def segmentation_models(self) -> Path:
        return self.root / "models" / "segmentation"

    def segmentation_model(self, round_number: int) -> Path:
        return self.segmentation_models / f"round_{int(round_number)}.pt"

    @property
    def rudalle_cache(self) -> Path:
        return self.root / "models" / "rudalle"

    def path(self, value: str | os.PathLike) -> Path:
        """A configured path (e.g. `model.cache_dir`): relative ones are under the home."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    # ------------------------------------------------------------------ paths kept in the database
    def to_stored(self, path: str | os.PathLike) -> str:
        """What the database keeps for a file under the home: its path relative to the home (POSIX)."""
        absolute = Path(path).expanduser().resolve()
        try:
            return PurePosixPath(absolute.relative_to(self.root)).as_posix()
        except ValueError:
            raise OutsideHome(f"{absolute} is outside the home folder {self.root}") from None

    def from_stored(self, stored: str) -> Path:
        """The file a stored path names; one that leads outside the home is refused."""
        path = Path(stored)
        absolute = (path if path.is_absolute() else self.root / path).resolve()
        if absolute != self.root and self.root not in absolute.parents:
            raise OutsideHome(f"stored path {stored} is outside the home folder {self.root}: refusing to read it")
        return absolute


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    return Home.resolve(home).root


def resolve_db_url(db: str | None = None, home: str | os.PathLike | None = None) -> str:
    return Home.resolve(home).db_url(db)
