"""Automatic scores against the ratings: statistics checked against scipy on fixed data, the DB query,
the Checkpoints page section (admins only), and the 0004 migration keeping ratings on SQLite."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from workbench.app.analytics import automatic_scores as auto

# fixed data: 40 pairs with ties on the rating side (ratings are means of 1-5 scores)
RNG = np.random.default_rng(1)
X = RNG.normal(size=40)
Y = np.round(0.5 * X + RNG.normal(size=40))


def test_spearman_and_interval_match_scipy():
    rho, low, high = auto.spearman_interval(X, Y, n_resamples=2000, seed=0)
    assert rho == pytest.approx(stats.spearmanr(X, Y).statistic, abs=1e-12)
    reference = stats.bootstrap((X, Y), lambda a, b: stats.spearmanr(a, b).statistic, paired=True, vectorized=False,
                                n_resamples=2000, method="percentile", rng=np.random.default_rng(0))
    assert (low, high) == pytest.approx(tuple(reference.confidence_interval), abs=1e-12)
    assert low < rho < high
    # more data of the same kind: a narrower interval around the same kind of value
    big_x = np.random.default_rng(2).normal(size=400)
    big_y = np.round(0.5 * big_x + np.random.default_rng(3).normal(size=400))
    _, big_low, big_high = auto.spearman_interval(big_x, big_y, n_resamples=500)
    assert big_high - big_low < high - low


def test_vectorised_statistic_is_scipys_spearman_on_every_row():
    rows = np.random.default_rng(4).integers(1, 6, size=(50, 12)).astype(float)
    other = np.random.default_rng(5).normal(size=(50, 12))
    expected = [stats.spearmanr(a, b).statistic for a, b in zip(rows, other, strict=True)]
    assert auto._rank_pearson(rows, other) == pytest.approx(expected, abs=1e-12)


def test_small_or_flat_data_is_refused_and_degenerate_resamples_are_left_out():
    with pytest.raises(ValueError):
        auto.spearman_interval([1, 2], [2, 1])
    with pytest.raises(ValueError):
        auto.spearman_interval([1, 2, 3, 4], [3, 3, 3, 3])
    # 5 distinct points: about 0.2 % of resamples repeat one point only (ρ undefined); the interval still exists
    rho, low, high = auto.spearman_interval([1, 2, 3, 4, 5], [1, 3, 2, 5, 4], n_resamples=2000)
    assert rho == pytest.approx(0.8) and low is not None and low <= rho <= high <= 1.0


@dataclass(frozen=True)
class Row:
    sample_id: int
    checkpoint_id: int
    step: int
    caption_loss: float | None
    perplexity: float | None
    ratings: int
    generality: float | None
    emoji_style: float | None
    quality: float | None


def _rows(seed: int = 0, checkpoints: int = 6, per: int = 16, tracks: bool = True) -> list[Row]:
    """Quality rises with the step; caption loss falls with quality (if `tracks`); perplexity is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(checkpoints):
        for i in range(per):
            quality = float(np.clip(round(1 + 0.6 * c + rng.normal(0, 0.6)), 1, 5))
            loss = (4.0 - 0.4 * quality if tracks else 3.0) + rng.normal(0, 0.3)
            rated = i % 4 != 3  # a quarter unrated
            rows.append(Row(len(rows) + 1, 100 + c, 1000 * c, loss, 2.0 + rng.random(), 2 if rated else 0,
                            rng.integers(1, 6) * 1.0 if rated else None, rng.integers(1, 6) * 1.0 if rated else None,
                            quality if rated else None))
    return rows


def test_checkpoint_intervals_are_student_t_over_samples():
    rows = _rows()
    points = auto.checkpoint_intervals(rows)
    assert [p.step for p in points] == [0, 1000, 2000, 3000, 4000, 5000]
    values = [r.caption_loss for r in rows if r.checkpoint_id == 102]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    iv = points[2].intervals["caption_loss"]
    assert (iv.n, iv.mean, iv.low, iv.high) == pytest.approx((16, np.mean(values), low, high))


def test_correlations_per_sample_and_per_checkpoint():
    rows = _rows()
    found = {(c.score, c.criterion, c.level): c for c in auto.correlations(rows, n_resamples=500)}
    assert len(found) == 12  # 2 scores × 3 criteria × 2 levels
    rated = [r for r in rows if r.quality is not None]
    per_sample = found[("caption_loss", "quality", "sample")]
    assert per_sample.n == len(rated) == 72
    assert per_sample.rho == pytest.approx(stats.spearmanr([r.caption_loss for r in rated],
                                                           [r.quality for r in rated]).statistic)
    per_checkpoint = found[("caption_loss", "quality", "checkpoint")]
    means = [(np.mean([r.caption_loss for r in rated if r.checkpoint_id == c]),
              np.mean([r.quality for r in rated if r.checkpoint_id == c])) for c in range(100, 106)]
    assert per_checkpoint.n == 6
    assert per_checkpoint.rho == pytest.approx(stats.spearmanr(*zip(*means, strict=True)).statistic)
    assert per_sample.rho < -0.5 and per_sample.excludes_zero

    sentence = auto.summary_sentence(list(found.values()))
    assert sentence.startswith("On this run, caption loss tracks quality best")
    assert "strong" in sentence and "the useful direction" in sentence


def test_summary_sentence_says_when_nothing_tracks():
    found = auto.correlations(_rows(tracks=False, seed=3), n_resamples=500)
    tracking = [c for c in found if c.excludes_zero]
    sentence = auto.summary_sentence(found)
    if tracking:  # chance can still produce one; the sentence must then name the strongest
        assert sentence.startswith("On this run,")
    else:
        assert sentence.startswith("No automatic score tracks any criterion on this run")
    assert "Not enough data" in auto.summary_sentence([])
    wrong_way = [auto.Correlation("perplexity", "generality", "sample", 50, 0.4, 0.2, 0.6)]
    assert "wrong way round" in auto.summary_sentence(wrong_way) and "moderate" in auto.summary_sentence(wrong_way)
    none = [auto.Correlation("perplexity", "generality", "checkpoint", 6, -0.3, -0.9, 0.5)]
    assert auto.summary_sentence(none) == ("No automatic score tracks any criterion on this run: every 95 % interval "
                                           "of Spearman's ρ includes zero (6 checkpoints).")


# ---------------------------------------------------------------- the query and the page


def _give_caption_losses(engine, seeded, tracks: bool = True):
    """Caption losses on the seeded run: falling with the designed emoji-style trend, plus noise."""
    from sqlalchemy import select

    from db.captioners import set_caption_losses
    from db.engine import write_session
    from db.models import Checkpoint, Sample
    from tests.seed import emoji_style_share

    rng = np.random.default_rng(0)
    with write_session(engine) as s:
        rows = s.execute(select(Sample.id, Checkpoint.step).join(Checkpoint)
                         .where(Checkpoint.run_id == seeded.run_id)).all()
        set_caption_losses(s, {sid: (4.0 - 2.0 * emoji_style_share(step) if tracks else 3.0) + rng.normal(0, 0.3)
                               for sid, step in rows})


def test_run_sample_scores_averages_ratings_per_sample(engine, seeded):
    from sqlalchemy import func, select

    from db.automatic_scores import run_sample_scores, scores_version
    from db.engine import read_session
    from db.models import Rating

    before = None
    with read_session(engine) as s:
        before = scores_version(s, seeded.run_id)
    _give_caption_losses(engine, seeded)
    with read_session(engine) as s:
        rows = run_sample_scores(s, seeded.run_id)
        assert scores_version(s, seeded.run_id) != before
        first = rows[0]
        mean_q = s.scalar(select(func.avg(Rating.quality)).where(Rating.sample_id == first.sample_id))
    assert len(rows) == 4 * 64 and [r.step for r in rows] == sorted(r.step for r in rows)
    assert first.ratings == 2 and first.quality == pytest.approx(mean_q)
    assert all(r.caption_loss is not None and r.perplexity is not None for r in rows)


def test_checkpoints_page_shows_automatic_scores_to_admins_only(app_env, engine, seeded):
    from tests.test_app import start

    _give_caption_losses(engine, seeded)
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # the page is for admins only
        start(seeded.token("rater1")).switch_page("app_pages/checkpoints.py")
    admin = start(seeded.admin[1]).switch_page("app_pages/checkpoints.py").run()
    assert not admin.exception
    assert any(h.value == "Automatic scores against the ratings" for h in admin.subheader)
    sentence = [i.value for i in admin.info if "tracks" in i.value]
    assert sentence and sentence[0].startswith("On this run, caption loss tracks emoji style best")
    table = [d.value for d in admin.dataframe if "ρ" in d.value.columns][0]
    assert len(table) == 6 and set(table["per"]) == {"sample"}  # 2 scores × 3 criteria; 4 checkpoints are too few
    assert any("needs at least 5 rated checkpoints; this run has 4" in c.value for c in admin.caption)


def test_checkpoints_page_without_caption_losses_says_how_to_get_them(app_env, engine, seeded):
    from tests.test_app import start

    admin = start(seeded.admin[1]).switch_page("app_pages/checkpoints.py").run()
    assert not admin.exception
    assert any(f"emojich score --run {seeded.run_id}" in c.value for c in admin.caption)  # perplexity alone is shown


def test_caption_loss_migration_keeps_ratings_on_sqlite(tmp_path):
    from sqlalchemy import func, inspect, select

    from db.engine import make_engine, read_session, write_session
    from db.migrate import downgrade, upgrade
    from db.models import Rating
    from tests.seed import seed_workbench

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        seed_workbench(s, checkpoints=2, raters=1, masks=0, comparisons_per_rater=0, dataset_items=0)
    with read_session(engine) as s:
        ratings = s.scalar(select(func.count()).select_from(Rating))
    downgrade(url, "0001")  # drops samples.caption_loss in place: no table rebuild, no cascading delete
    columns = {c["name"] for c in inspect(engine).get_columns("samples")}
    assert "caption_loss" not in columns and "captioners" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ratings").scalar() == ratings == 128
    upgrade(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ratings").scalar() == ratings
    engine.dispose()


@pytest.mark.postgres
def test_caption_loss_queries_on_postgres(pg_url):
    from db.automatic_scores import run_sample_scores, scores_version
    from db.captioners import (
        add_captioner,
        caption_loss_counts,
        latest_captioner,
        set_caption_losses,
        unscored_samples,
    )
    from db.engine import make_engine, read_session, write_session
    from db.migrate import downgrade, upgrade
    from tests.seed import seed_workbench

    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with write_session(engine) as s:
            seeded = seed_workbench(s, checkpoints=3, prompts=4, raters=2, image_size=16, masks=0, dataset_items=0,
                                    comparisons_per_rater=0)
        with read_session(engine) as s:
            version = scores_version(s, seeded.run_id)
            pending = unscored_samples(s, seeded.run_id, limit=5)
        assert len(pending) == 5 and pending[0].png.startswith(b"\x89PNG")
        with write_session(engine) as s:
            set_caption_losses(s, {p.sample_id: 2.5 for p in pending})
        with read_session(engine) as s:
            assert caption_loss_counts(s, seeded.run_id) == (5, 12)
            assert scores_version(s, seeded.run_id) != version
            rows = run_sample_scores(s, seeded.run_id)
        assert len(rows) == 12 and sum(r.caption_loss == 2.5 for r in rows) == 5 and all(r.ratings == 2 for r in rows)
        fields = dict(config={}, path="models/captioner/c.pt", vae_file="v", tokenizer_file="t", dataset="d",
                      train_pairs=1, val_pairs=0, steps=1, seconds=1.0)
        with write_session(engine) as s:
            _, cleared = add_captioner(s, stale_run_ids=[seeded.run_id], name="c", **fields)
        assert cleared == 5
        with read_session(engine) as s:
            assert caption_loss_counts(s, seeded.run_id) == (0, 12) and latest_captioner(s, "v", "t").name == "c"
    finally:
        engine.dispose()
