"""pytest fixtures for the workbench area (registered in conftest.py).

The seeded databases are built once per session (tests/seed.py, through db/ functions) into template
files, then copied for each test the way `migrated_template` is, instead of redrawing 256 PNGs per test.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from db.engine import make_engine, write_session
from tests.seed import SeedResult, seed_workbench


def _seeded_template(tmp_path_factory, migrated_template: Path, name: str, **options) -> tuple[Path, SeedResult]:
    path = tmp_path_factory.mktemp(f"template_{name}") / "seeded.db"
    shutil.copy(migrated_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with write_session(engine) as session:
            result = seed_workbench(session, **options)
        with engine.connect() as conn:  # fold the WAL into the main file so a plain copy is complete
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path, result


@pytest.fixture(scope="session")
def _seeded_template_db(tmp_path_factory, migrated_template):
    return _seeded_template(tmp_path_factory, migrated_template, "seeded", checkpoints=4, step_every=6000, raters=2,
                            masks=6, comparisons_per_rater=10)


@pytest.fixture(scope="session")
def _fresh_template_db(tmp_path_factory, migrated_template):
    return _seeded_template(tmp_path_factory, migrated_template, "fresh", checkpoints=3, raters=2, rate=False,
                            masks=4, comparisons_per_rater=0)


def _use(template: Path, db_url: str) -> None:
    shutil.copy(template, db_url.removeprefix("sqlite:///"))


@pytest.fixture
def seeded(_seeded_template_db, db_url, engine) -> SeedResult:
    """A small seeded chain: 4 checkpoints × 64 samples, an admin and 2 raters (ratings for the
    raters only), comparisons, metrics, 6 masks to review and a few dataset items."""
    template, result = _seeded_template_db
    engine.dispose()
    _use(template, db_url)
    return result


@pytest.fixture
def fresh_seeded(_fresh_template_db, db_url, engine) -> SeedResult:
    """Like `seeded`, but nobody has rated anything yet."""
    template, result = _fresh_template_db
    engine.dispose()
    _use(template, db_url)
    return result


@pytest.fixture
def app_env(db_url, monkeypatch) -> str:
    """Point the Streamlit app (run in-process by AppTest) at the temp database."""
    monkeypatch.setenv("EMOJICH_DB", db_url)
    return db_url
