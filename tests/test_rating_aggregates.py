"""The per-sample aggregates behind the dashboard (db/rating_stats.py) stay equal to the ratings
themselves through saves, edits, flags, undos and concurrent writers, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from statistics import fmean

import pytest
from sqlalchemy import select

from db.engine import make_engine, read_session, write_session
from db.migrate import downgrade, upgrade
from db.models import CheckpointRaterCount, Rater, Rating, Sample, SampleRatingStats
from db.rating_stats import COUNT_COLUMNS, rebuild
from db.ratings import Scores, delete_rating, save_rating, set_artifact_flags
from db.scores import checkpoint_scores, coincidences, ratings_per_rater, score_value_counts
from db.stickers import list_sticker_candidates
from tests.seed import seed_workbench
from workbench.app.analytics.agreement import ordinal_alpha_from_coincidences, ordinal_alpha_from_counts


def _stats(session) -> tuple[dict, dict]:
    per_sample = {row.sample_id: (row.ratings, *(getattr(row, c) for c in COUNT_COLUMNS))
                  for row in session.scalars(select(SampleRatingStats)) if row.ratings}
    per_rater = {(r.checkpoint_id, r.rater_id): r.ratings for r in session.scalars(select(CheckpointRaterCount)) if r.ratings}
    return per_sample, per_rater


def assert_aggregates_match_the_ratings(engine, run_id: int) -> None:
    with read_session(engine) as s:
        kept = _stats(s)
        ratings = s.execute(
            select(Rating.sample_id, Sample.checkpoint_id, Rater.name, Rating.generality, Rating.emoji_style, Rating.quality)
            .join(Sample, Sample.id == Rating.sample_id).join(Rater, Rater.id == Rating.rater_id)
        ).all()
        scores, per_rater, candidates = checkpoint_scores(s, run_id), ratings_per_rater(s, run_id), list_sticker_candidates(s, run_id, limit=10_000)
        counts = score_value_counts(s, run_id)
        matrices = coincidences(s, run_id)
    with write_session(engine) as s:  # recomputed from the ratings alone
        rebuild(s)
    with read_session(engine) as s:
        assert kept == _stats(s)

    by_sample = defaultdict(list)
    for sample_id, checkpoint_id, _, g, e, q in ratings:
        by_sample[(checkpoint_id, sample_id)].append((g, e, q))
    expected_means = defaultdict(list)  # checkpoint → per-sample mean of generality
    for (checkpoint_id, _), rows in by_sample.items():
        expected_means[checkpoint_id].append(fmean(r[0] for r in rows))
    assert {c.checkpoint_id: (c.samples, c.ratings) for c in scores} == {
        cid: (len(means), sum(len(rows) for (c, _), rows in by_sample.items() if c == cid)) for cid, means in expected_means.items()
    }
    for c in scores:
        assert c.by_criterion["generality"].mean == pytest.approx(fmean(expected_means[c.checkpoint_id]))
    names = defaultdict(int)
    for row in ratings:
        names[row[2]] += 1
    assert per_rater == sorted(names.items())
    assert {sid: v for sid, v in counts["quality"]} == {
        sid: [sum(1 for r in rows if r[2] == value) for value in range(1, 6)] for (_, sid), rows in by_sample.items()
    }
    for i, criterion in enumerate(("generality", "emoji_style", "quality")):  # agreement, both ways, from the raw rows
        raw = [[sum(1 for r in rows if r[i] == v) for v in range(1, 6)] for rows in by_sample.values()]
        direct, summed = ordinal_alpha_from_counts(raw), ordinal_alpha_from_coincidences(matrices[criterion])
        assert (direct is None and summed is None) or summed == pytest.approx(direct, abs=1e-9), criterion
    combined = {sid: fmean(sum(r) / 3 for r in rows) for (_, sid), rows in by_sample.items()}
    assert {c.sample_id: c.score for c in candidates if c.score is not None} == pytest.approx(combined)
    assert all(c.ratings == 0 for c in candidates if c.score is None)


def _random_writes(engine, rater_ids, sample_ids, seed: int, n: int) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        rater_id, sample_id = rng.choice(rater_ids), rng.choice(sample_ids)
        action = rng.random()
        with write_session(engine) as s:
            if action < 0.6:
                save_rating(s, rater_id, sample_id, Scores(*(rng.randint(1, 5) for _ in range(3))))
            elif action < 0.85:
                delete_rating(s, rater_id, sample_id)
            else:  # artifact flags never touch a rating (nor its aggregates)
                checkpoint_id = s.get(Sample, sample_id).checkpoint_id
                set_artifact_flags(s, rater_id, checkpoint_id, {sample_id})


def check_aggregates_follow_every_kind_of_write(engine):
    with write_session(engine) as s:
        seeded = seed_workbench(s, checkpoints=3, prompts=6, raters=3, image_size=8, masks=0, dataset_items=0,
                                comparisons_per_rater=0)  # seeded ratings arrive in bulk: rebuilt once
    with read_session(engine) as s:
        sample_ids = list(s.scalars(select(Sample.id)))
    rater_ids = [rid for rid, _ in seeded.raters.values()]
    assert_aggregates_match_the_ratings(engine, seeded.run_id)
    _random_writes(engine, rater_ids, sample_ids, seed=1, n=150)
    assert_aggregates_match_the_ratings(engine, seeded.run_id)

    threads = [threading.Thread(target=_random_writes, args=(engine, rater_ids, sample_ids[:6], seed, 40)) for seed in range(6)]
    for t in threads:  # six writers on the same six samples at once
        t.start()
    for t in threads:
        t.join()
    assert_aggregates_match_the_ratings(engine, seeded.run_id)

    with write_session(engine) as s:  # deleting a checkpoint takes its aggregates with it
        s.delete(s.get(Sample, sample_ids[0]).checkpoint)
    assert_aggregates_match_the_ratings(engine, seeded.run_id)


def test_on_sqlite(engine):
    check_aggregates_follow_every_kind_of_write(engine)


@pytest.mark.postgres
def test_on_postgres(pg_url):
    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=8)
    try:
        check_aggregates_follow_every_kind_of_write(engine)
    finally:
        engine.dispose()


def test_the_migration_fills_the_aggregates_of_existing_ratings(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006-1")  # the revision before the aggregates, whatever the chain becomes
    engine = make_engine(url)
    with write_session(engine) as s:  # ratings made before the aggregates existed (raw SQL: the old schema)
        s.connection().exec_driver_sql("INSERT INTO raters (id, name, token_hash, is_admin, created_at) VALUES (1, 'old', 'x', 0, '2026-01-01')")
        s.connection().exec_driver_sql(
            "INSERT INTO runs (id, name, config, status, started_at) VALUES (1, 'r', '{}', 'finished', '2026-01-01');"
        )
        s.connection().exec_driver_sql("INSERT INTO checkpoints (id, run_id, step, epoch, created_at) VALUES (1, 1, 0, 0, '2026-01-01')")
        s.connection().exec_driver_sql("INSERT INTO prompt_sets (id, name, created_at) VALUES (1, 'p', '2026-01-01')")
        s.connection().exec_driver_sql("INSERT INTO prompts (id, set_id, position, text) VALUES (1, 1, 0, 'кот')")
        s.connection().exec_driver_sql(
            "INSERT INTO images (sha256, png, width, height, created_at) VALUES ('" + "a" * 64 + "', x'00', 1, 1, '2026-01-01')"
        )
        for sid in (1, 2):
            s.connection().exec_driver_sql(
                f"INSERT INTO samples (id, checkpoint_id, prompt_id, seed, top_k, top_p, temperature, image_sha256, created_at) "
                f"VALUES ({sid}, 1, 1, {sid}, 1, 1.0, 1.0, '{'a' * 64}', '2026-01-01')"
            )
            s.connection().exec_driver_sql(
                f"INSERT INTO ratings (rater_id, sample_id, generality, emoji_style, quality, created_at, updated_at) "
                f"VALUES (1, {sid}, {sid + 2}, 4, 5, '2026-01-01', '2026-01-01')"
            )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert_aggregates_match_the_ratings(engine, 1)
    with read_session(engine) as s:
        assert [c.by_criterion["generality"].mean for c in checkpoint_scores(s, 1)] == [3.5]
    engine.dispose()
