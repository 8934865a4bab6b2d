"""pytest fixtures for the workbench area (registered in conftest.py)."""
from __future__ import annotations

import pytest

from db.engine import write_session
from db.seed import SeedResult, seed_workbench


@pytest.fixture
def seeded(engine) -> SeedResult:
    """A small seeded chain: 4 checkpoints × 64 samples, an admin and 2 raters (ratings for the
    raters only), comparisons, metrics, 6 masks to review and a few dataset items."""
    with write_session(engine) as session:
        return seed_workbench(session, checkpoints=4, step_every=6000, raters=2, masks=6, comparisons_per_rater=10)


@pytest.fixture
def fresh_seeded(engine) -> SeedResult:
    """Like `seeded`, but nobody has rated anything yet."""
    with write_session(engine) as session:
        return seed_workbench(session, checkpoints=3, raters=2, rate=False, masks=4, comparisons_per_rater=0)


@pytest.fixture
def app_env(db_url, monkeypatch) -> str:
    """Point the Streamlit app (run in-process by AppTest) at the temp database."""
    monkeypatch.setenv("EMOJICH_DB", db_url)
    return db_url
