"""Alembic: upgrade on an empty DB, downgrade to base and back, and no drift from the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.engine import make_engine
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base

TABLES = {
    "login_sessions", "login_throttle", "sample_rating_stats", "checkpoint_rater_counts",
    "runs", "checkpoints", "prompt_sets", "prompts", "images", "samples", "raters", "ratings",
    "comparisons", "metrics", "dataset_items", "masks", "segmentation_rounds", "decisions",
    "generation_jobs", "job_candidates", "sticker_sets", "sticker_picks",
}


def test_upgrade_downgrade_upgrade(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision()

    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None

    upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_cli_refuses_unmigrated_database(tmp_path):
    import pytest

    from db.errors import EmojichError
    from workbench.cli.context import AppContext

    ctx = AppContext.from_options(home=str(tmp_path), db=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(EmojichError, match="emojich db upgrade"):
        _ = ctx.engine
