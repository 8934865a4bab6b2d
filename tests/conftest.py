"""Shared fixtures: a temp SQLite database per test, built by running the real migrations once."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from db.engine import make_engine
from db.migrate import upgrade

# Each area keeps its fixtures in its own module.
pytest_plugins = [
    "tests.fixtures_dataset",
    "tests.fixtures_training",
    "tests.fixtures_segmentation",
    "tests.fixtures_workbench",
    "tests.fixtures_captioner",
    "tests.fixtures_generation",
    "tests.fixtures_bot",
]


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest leaves `sys.modules['__main__']` pointing at the app script; a later
    spawn-context process pool (the dataset builder's) would then re-run the app in each worker."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _unfreeze_the_heap():
    """The app freezes the heap after runs that imported modules (workbench/app/long_lived.py); in the
    server that is the point, in this test process it would keep every later test's garbage from the
    collector, so each test ends unfrozen."""
    import gc

    yield
    gc.unfreeze()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:  # fold the WAL into the main file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def db_url(tmp_path, migrated_template) -> str:
    path = tmp_path / "emojich.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def home(tmp_path, db_url, monkeypatch) -> Path:
    """A temp EMOJICH_HOME whose database is the migrated temp DB (for CLI and app tests)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("EMOJICH_HOME", str(home))
    monkeypatch.setenv("EMOJICH_DB", db_url)
    return home


@pytest.fixture(scope="session")
def pg_url():
    """A real PostgreSQL server, started for this test session and removed after it."""
    from tests.pg_server import PostgresServer

    server = PostgresServer()
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def pg_engine(pg_url):
    """An empty, freshly migrated PostgreSQL database (the schema dropped and rebuilt per test)."""
    from db.migrate import downgrade

    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()
