"""The same schema, constraints and image batches on a real PostgreSQL server."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image as PILImage
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from db.engine import read_session, write_session
from db.images import get_png, put_image
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.models import Base, Image, Rater, Rating, Sample
from db.runs import add_run
from db.samples import NewSample, add_checkpoint_with_samples, ensure_prompt_set

pytestmark = pytest.mark.postgres


def test_migrations_round_trip_and_no_drift(pg_url, pg_engine):
    assert current_revision(pg_engine) == head_revision()
    with pg_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    downgrade(pg_url, "base")
    assert current_revision(pg_engine) is None
    upgrade(pg_url)
    assert current_revision(pg_engine) == head_revision()


def test_images_are_bytea_and_batches_are_atomic(pg_engine):
    with write_session(pg_engine) as s:
        run = add_run(s, "pg", {"a": 1})
        prompts = ensure_prompt_set(s, "eval", [f"p{i}" for i in range(8)]).prompts
        run_id, prompt_ids = run.id, [p.id for p in prompts]
    good = [NewSample(prompt_id=p, seed=1, image=PILImage.new("RGB", (8, 8), (i, 9, 9))) for i, p in enumerate(prompt_ids)]
    with pytest.raises(IntegrityError):
        with write_session(pg_engine) as s:  # the last sample duplicates the first: whole batch refused
            add_checkpoint_with_samples(s, run_id, 0, 0.0, None, good + [good[0]])
    with read_session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(Image)) == 0
        assert s.scalar(select(func.count()).select_from(Sample)) == 0
    with write_session(pg_engine) as s:
        add_checkpoint_with_samples(s, run_id, 0, 0.0, None, good)
        sha = put_image(s, PILImage.new("RGB", (8, 8), (0, 9, 9)))  # same pixels as sample 0: stored once
    with read_session(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(Image)) == 8
        assert get_png(s, sha).startswith(b"\x89PNG")
    with pg_engine.connect() as conn:
        kind = conn.exec_driver_sql(
            "SELECT data_type FROM information_schema.columns WHERE table_name='images' AND column_name='png'"
        ).scalar()
    assert kind == "bytea"


def test_rating_constraints(pg_engine):
    with write_session(pg_engine) as s:
        run = add_run(s, "pg", {})
        prompt = ensure_prompt_set(s, "eval", ["кот"]).prompts[0]
        add_checkpoint_with_samples(s, run.id, 0, 0.0, None, [NewSample(prompt_id=prompt.id, seed=1, image=PILImage.new("RGB", (4, 4)))])
        rater = Rater(name="ann", token_hash="h")
        s.add(rater)
        s.flush()
        rater_id, sample_id = rater.id, s.scalar(select(Sample.id))
    with pytest.raises(IntegrityError):
        with write_session(pg_engine) as s:
            s.add(Rating(rater_id=rater_id, sample_id=sample_id, generality=6, emoji_style=3, quality=3))
    with write_session(pg_engine) as s:
        s.add(Rating(rater_id=rater_id, sample_id=sample_id, generality=5, emoji_style=3, quality=3))
    with pytest.raises(IntegrityError):
        with write_session(pg_engine) as s:
            s.add(Rating(rater_id=rater_id, sample_id=sample_id, generality=4, emoji_style=3, quality=3))


def test_cli_db_upgrade_against_postgres(pg_url, pg_engine, capsys):
    from workbench.cli import main

    downgrade(pg_url, "base")
    assert main(["--db", pg_url, "db", "upgrade"]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out


def test_workbench_queries_run_on_postgres(pg_engine):
    """PostgreSQL is stricter than SQLite about GROUP BY/ORDER BY: every page query must run there too."""
    from db import checkpoints, comparisons, masks, ratings, runs, scores, segmentation, stickers
    from db.seed import seed_workbench

    with write_session(pg_engine) as s:
        seeded = seed_workbench(s, checkpoints=3, prompts=4, raters=2, image_size=16, masks=2, dataset_items=4,
                                comparisons_per_rater=4)
    run_id, rater_id = seeded.run_id, seeded.raters["rater1"][0]
    checkpoint_id, prompt_id = seeded.checkpoint_ids[1], seeded.prompt_ids[0]
    with read_session(pg_engine) as s:
        per_checkpoint = scores.checkpoint_scores(s, run_id)
        assert [c.step for c in per_checkpoint] == seeded.steps and all(c.samples == 4 for c in per_checkpoint)
        assert len(scores.score_value_counts(s, run_id)["quality"]) == 12
        assert runs.metric_series(s, run_id, max_points=10)
        assert len(checkpoints.prompt_across_checkpoints(s, run_id, prompt_id)) == 3
        candidates = stickers.list_sticker_candidates(s, run_id)
        assert len(candidates) == 12 and candidates[0].score >= candidates[-1].score
        assert len(stickers.list_sticker_candidates(s, run_id, checkpoint_id=checkpoint_id, prompt_id=prompt_id)) == 1
        assert ratings.rating_progress(s, rater_id) == (12, 12)
        assert len(list(ratings.iter_ratings_for_export(s, seeded.admin[0], run_id))) == 24
        assert len(ratings.list_grid(s, checkpoint_id, rater_id)) == 4
        assert comparisons.list_outcomes(s, run_id)
        assert masks.list_review_queue(s) and masks.count_review_queue(s) >= 1
        assert segmentation.count_undecided_samples(s) >= 1
