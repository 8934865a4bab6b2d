"""A rating save compiles no SQL once warm (SQLAlchemy never caches its dialects' INSERT … ON
CONFLICT constructs; compiling them was most of a save's CPU), and the prepared statements store
exactly what the ORM would, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.sql import compiler

from db.engine import read_session, write_session
from db.models import Rating, RatingRepeat
from db.ratings import Scores, delete_rating, last_rated_sample_id, save_rating, save_repeat
from tests.seed import seed_workbench


def _seeded(engine):
    with write_session(engine) as s:
        seeded = seed_workbench(s, run_name="prep", checkpoints=2, raters=1, rate=False, masks=0,
                                dataset_items=0, comparisons_per_rater=0, image_size=16)
    rater_id = next(rid for name, (rid, _) in seeded.raters.items() if name != "admin")
    with read_session(engine) as s:
        from db.models import Sample

        return rater_id, list(s.scalars(select(Sample.id).order_by(Sample.id)))


def _count_insert_compiles(monkeypatch) -> list[int]:
    calls = [0]
    original = compiler.SQLCompiler.visit_insert

    def counting(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(compiler.SQLCompiler, "visit_insert", counting)
    return calls


def _check(engine, monkeypatch) -> None:
    rater_id, samples = _seeded(engine)
    with write_session(engine) as s:  # warm: each statement compiled once
        save_rating(s, rater_id, samples[0], Scores(1, 2, 3))
        save_rating(s, rater_id, samples[0], Scores(2, 2, 3), comment="warm")
        save_repeat(s, rater_id, samples[0], Scores(5, 5, 5))
        delete_rating(s, rater_id, samples[0])
    calls = _count_insert_compiles(monkeypatch)
    for i, sample_id in enumerate(samples[1:11]):
        with write_session(engine) as s:
            save_rating(s, rater_id, sample_id, Scores(1 + i % 5, 2, 3))
            save_rating(s, rater_id, sample_id, Scores(4, 1 + i % 5, 3), comment="mended")
            save_repeat(s, rater_id, sample_id, Scores(3, 3, 3))
    assert calls[0] == 0, f"{calls[0]} INSERT statements compiled by 30 warm saves"

    with read_session(engine) as s:
        rating = s.scalar(select(Rating).where(Rating.rater_id == rater_id, Rating.sample_id == samples[10]))
        assert (rating.generality, rating.emoji_style, rating.quality, rating.comment) == (4, 5, 3, "mended")
        assert isinstance(rating.created_at, datetime) and rating.updated_at >= rating.created_at
        repeat = s.scalar(select(RatingRepeat).where(RatingRepeat.rater_id == rater_id, RatingRepeat.sample_id == samples[10]))
        assert (repeat.generality, repeat.emoji_style, repeat.quality) == (3, 3, 3)
        # the timestamps order as the ORM's did (SQLite compares the stored text)
        assert last_rated_sample_id(s, rater_id) == samples[10]
    with write_session(engine) as s:  # an edit without a comment keeps it
        save_rating(s, rater_id, samples[10], Scores(1, 1, 1))
    with read_session(engine) as s:
        assert s.scalar(select(Rating.comment).where(Rating.rater_id == rater_id, Rating.sample_id == samples[10])) == "mended"

    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: sent.append(sql))
    with write_session(engine) as s:  # a first rating of a sample: what goes to the database
        save_rating(s, rater_id, samples[11], Scores(2, 3, 4))
    statements = [q for q in sent if not q.lstrip().upper().startswith(("BEGIN", "COMMIT", "SELECT 1"))]
    # PostgreSQL: lock the sample; upsert returning the old scores; both aggregates in one (a round
    # trip each). SQLite has no round trips to save: lock, old scores, upsert, two aggregates.
    assert len(statements) == (3 if engine.dialect.name == "postgresql" else 5), statements


def test_warm_saves_compile_nothing_on_sqlite(engine, monkeypatch):
    _check(engine, monkeypatch)


@pytest.mark.postgres
def test_warm_saves_compile_nothing_on_postgres(pg_engine, monkeypatch):
    _check(pg_engine, monkeypatch)
