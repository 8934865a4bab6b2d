"""Workbench speed: per-page query times at 20 checkpoints × 64 samples × 10 raters, full page
renders (AppTest, cold caches), then the dashboard queries at 1,024,000 ratings on SQLite and on a
throw-away PostgreSQL server.

    .venv/bin/python bench/bench_dashboard.py [--million-raters 320] [--db sqlite postgres] [--skip-small] [--keep DIR]

Prints milliseconds: "cold" is the first call on a new connection right after the database was
opened (no Streamlit cache, no warmed statement), "median" the median of 3 more. Temp databases.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.checkpoints import (  # noqa: E402
    checkpoint_steps,  # noqa: E402
    prompt_across_checkpoints,
    run_prompts,
)
from db.comparisons import list_outcomes, next_pair_view  # noqa: E402
from db.dataset import caption_word_counts, list_datasets  # noqa: E402
from db.decisions import latest_decision  # noqa: E402
from db.engine import make_engine, read_session, write_session  # noqa: E402
from db.masks import count_review_queue, list_review_queue  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Rater, Rating, Sample, utcnow  # noqa: E402
from db.rating_stats import rebuild  # noqa: E402
from db.ratings import get_scores, list_grid, rating_progress  # noqa: E402
from db.runs import metric_series  # noqa: E402
from db.scores import checkpoint_scores, coincidences, ratings_per_rater  # noqa: E402
from db.stickers import list_sticker_candidates  # noqa: E402
from tests.seed import seed_workbench, true_means  # noqa: E402
from workbench.app.analytics.agreement import ordinal_alpha_from_coincidences  # noqa: E402
from workbench.app.analytics.bradley_terry import ranking  # noqa: E402
from workbench.app.rating_queue import next_item  # noqa: E402


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def page_queries(session, run_id: int, rater_id: int, checkpoint_id: int, prompt_id: int) -> dict[str, dict[str, callable]]:
    def alphas():
        return [ordinal_alpha_from_coincidences(m) for m in coincidences(session, run_id).values()]

    def bt():
        steps = dict(checkpoint_steps(session, run_id))
        ranking(list(steps), [(o.checkpoint_a, o.checkpoint_b, o.winner, o.count) for o in list_outcomes(session, run_id)])

    return {
        "rate": {"next_item": lambda: next_item(session, rater_id, run_id), "rating_progress": lambda: rating_progress(session, rater_id),
                 "get_scores": lambda: get_scores(session, rater_id, 1)},
        "grid": {"checkpoint_steps": lambda: checkpoint_steps(session, run_id),
                 "list_grid": lambda: list_grid(session, checkpoint_id, rater_id)},
        "compare": {"next_pair_view": lambda: next_pair_view(session, rater_id, run_id), "bradley_terry": bt},
        "checkpoints": {
            "checkpoint_scores": lambda: checkpoint_scores(session, run_id),
            "alpha_3_criteria": alphas,
            "ratings_per_rater": lambda: ratings_per_rater(session, run_id),
            "metric_series": lambda: metric_series(session, run_id),
            "run_prompts": lambda: run_prompts(session, run_id),
            "prompt_across_checkpoints": lambda: prompt_across_checkpoints(session, run_id, prompt_id),
            "latest_decision": lambda: latest_decision(session, run_id),
        },
        "masks": {"list_review_queue": lambda: list_review_queue(session, 50), "count_review_queue": lambda: count_review_queue(session)},
        "stickers": {"list_sticker_candidates": lambda: list_sticker_candidates(session, run_id, None, None, 0.0, 64)},
        "dataset": {"list_datasets": lambda: list_datasets(session), "caption_word_counts": lambda: caption_word_counts(session, "seed-emoji")},
    }


def print_queries(engine, run_id, rater_id, checkpoint_id, prompt_id, pages=None) -> None:
    with read_session(engine) as session:
        for page, queries in page_queries(session, run_id, rater_id, checkpoint_id, prompt_id).items():
            if pages and page not in pages:
                continue
            times = {name: timed(fn) for name, fn in queries.items()}
            detail = ", ".join(f"{n} {t:.1f}" for n, t in times.items())
            print(f"  {page:<12} total {sum(times.values()):7.1f} ms  ({detail})")


def render_pages(url: str, token: str) -> None:
    """Each page through AppTest with every Streamlit cache cleared first (a cold render)."""
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name in ("streamlit", "streamlit.runtime.caching.cache_data_api"):
        logging.getLogger(name).setLevel(logging.ERROR)

    os.environ["EMOJICH_DB"] = url
    at = AppTest.from_file(str(ROOT / "workbench" / "app" / "app.py"), default_timeout=120)
    at.run()
    at.text_input(key="login.token").input(token)
    at.button[0].click().run()
    pages = ["rate", "grid", "compare", "checkpoints", "masks", "stickers", "dataset"]
    for page in pages:  # warm-up: imports (altair, choix, cv2) are paid once per server process
        at.switch_page(f"app_pages/{page}.py").run()
    for page in pages:
        times = []
        for _ in range(3):
            st.cache_data.clear()
            start = time.perf_counter()
            at.switch_page(f"app_pages/{page}.py").run()
            times.append(time.perf_counter() - start)
        errors = [e.value for e in at.exception] + [e.value for e in at.error]
        warm_start = time.perf_counter()
        at.run()
        warm = time.perf_counter() - warm_start
        flag = "" if statistics.median(times) < 1 else "  <-- over 1 s"
        print(f"  {page:<12} cold {statistics.median(times) * 1000:7.1f} ms   warm {warm * 1000:7.1f} ms{flag}"
              + (f"  ERROR {errors[0][:80]}" if errors else ""))


def bulk_ratings(engine, run_id: int, sample_steps: list[tuple[int, int]], raters: int, last: int) -> int:
    """`raters` raters who each rate every sample: one executemany per rater, then the per-sample
    aggregates rebuilt once (a bulk insert bypasses db/ratings.py, which keeps them current)."""
    rng = random.Random(1)
    now = utcnow()
    with write_session(engine) as session:
        ids = [
            session.execute(insert(Rater).values(name=f"bulk{i:04d}", token_hash="bench", is_admin=False).returning(Rater.id)).scalar_one()
            for i in range(raters)
        ]
    effects = {sid: rng.gauss(0, 0.5) for sid, _ in sample_steps}
    means = {step: true_means(step, last) for step in {s for _, s in sample_steps}}
    total = 0
    for rater_id in ids:
        bias = rng.gauss(0, 0.25)
        rows = []
        for sid, step in sample_steps:
            m = means[step]
            e = effects[sid] + bias
            rows.append({"rater_id": rater_id, "sample_id": sid, "created_at": now, "updated_at": now,
                         **{c: min(5, max(1, round(v + e + rng.gauss(0, 0.55)))) for c, v in m.items()}})
        with write_session(engine) as session:
            session.execute(insert(Rating), rows)
        total += len(rows)
    with write_session(engine) as session:
        rebuild(session)
    return total


def million_queries(url: str, run_id: int, rater_id: int, checkpoint_id: int, prompt_id: int) -> None:
    """The dashboard's queries at 1M ratings: cold (first call on a fresh engine) and the median of 3."""
    names = ("checkpoints", "stickers", "rate", "grid")
    engine = make_engine(url)
    with read_session(engine) as session:
        queries = page_queries(session, run_id, rater_id, checkpoint_id, prompt_id)
        for page in names:
            try:
                cold = {name: timed(fn, repeat=1) for name, fn in queries[page].items()}
                warm = {name: timed(fn) for name, fn in queries[page].items()}
            except Exception as exc:  # noqa: BLE001 - a benchmark reports a failing page and goes on
                session.rollback()
                print(f"  {page:<12} FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                continue
            detail = ", ".join(f"{n} {cold[n]:.1f}/{warm[n]:.1f}" for n in cold)
            print(f"  {page:<12} cold {sum(cold.values()):7.1f} ms, median {sum(warm.values()):7.1f} ms  "
                  f"(cold/median per query: {detail})")
    engine.dispose()


def million(url: str, raters: int, label: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    with write_session(engine) as session:
        seed_m = seed_workbench(session, checkpoints=50, raters=0, admin=True, rate=False, comparisons_per_rater=0, masks=0,
                                dataset_items=0, image_size=32)
    with read_session(engine) as session:
        sample_steps = [(sid, step) for sid, step in session.execute(
            select(Sample.id, Sample.checkpoint_id).where(Sample.checkpoint_id.in_(seed_m.checkpoint_ids)))]
    step_of = dict(zip(seed_m.checkpoint_ids, seed_m.steps, strict=True))
    sample_steps = [(sid, step_of[cid]) for sid, cid in sample_steps]
    total = bulk_ratings(engine, seed_m.run_id, sample_steps, raters, seed_m.steps[-1])
    engine.dispose()
    print(f"{label}: seeded 50 checkpoints × 64 samples × {raters} raters: {total:,} ratings in "
          f"{time.perf_counter() - start:.1f} s")
    print(f"{label}: dashboard query times at {total:,} ratings (ms):")
    million_queries(url, seed_m.run_id, seed_m.admin[0], seed_m.checkpoint_ids[0], seed_m.prompt_ids[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million-raters", type=int, default=320, help="raters in the 1M set (50 checkpoints × 64 samples each)")
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"],
                        help="databases for the 1M set (postgres: a throw-away local server)")
    parser.add_argument("--skip-small", action="store_true", help="only the 1M set")
    parser.add_argument("--keep", type=Path, help="keep the SQLite databases in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="emojich-bench-"))
    folder.mkdir(parents=True, exist_ok=True)

    if not args.skip_small:
        url = f"sqlite:///{folder / 'bench40k.db'}"
        upgrade(url)
        engine = make_engine(url)
        start = time.perf_counter()
        with write_session(engine) as session:
            seed = seed_workbench(session, checkpoints=20, raters=10, comparisons_per_rater=100, masks=40)
        with read_session(engine) as session:
            n = session.scalar(select(func.count()).select_from(Rating))
        print(f"seeded 20 checkpoints × 64 samples × 10 raters: {n} ratings ({3 * n} scores) in {time.perf_counter() - start:.1f} s")
        print("query times per page (ms, median of 3):")
        print_queries(engine, seed.run_id, seed.raters["rater1"][0], seed.checkpoint_ids[0], seed.prompt_ids[0])
        print("full page renders through AppTest (admin, Streamlit caches cleared before each):")
        render_pages(url, seed.admin[1])
        engine.dispose()
        print()

    if "sqlite" in args.db:
        million(f"sqlite:///{folder / 'bench1m.db'}", args.million_raters, "sqlite")
    if "postgres" in args.db:
        from tests.pg_server import PostgresServer

        server = PostgresServer()
        try:
            million(server.start(), args.million_raters, "postgres")
        finally:
            server.stop()
    if args.keep:
        print(f"databases kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
