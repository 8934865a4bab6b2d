"""One rater's rating save on its own: latency, CPU and statements, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_save.py [--saves 400] [--db sqlite postgres]

What the Rate page's write costs with nothing else running: a login re-check and a save (every
seventh an undo), each in its own write transaction, as bench/soak.py's direct raters do. Prints
p50/p99 wall time, p50 CPU time and the statements one save sends. PostgreSQL runs with fsync on.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(url: str, saves: int) -> str:
    from sqlalchemy import event, select

    from db.engine import make_engine, write_session
    from db.login import log_in
    from db.login_sessions import require_live
    from db.migrate import upgrade
    from db.models import Sample
    from db.ratings import Scores, delete_rating, save_rating
    from tests.seed import seed_workbench

    upgrade(url)
    engine = make_engine(url)
    with write_session(engine) as s:
        seeded = seed_workbench(s, run_name="bench-save", checkpoints=4, raters=2, rate=False, masks=0,
                                dataset_items=0, comparisons_per_rater=0, image_size=64)
        sample_ids = list(s.scalars(select(Sample.id)))
    rater_id, token = next(v for k, v in seeded.raters.items() if k != "admin")
    login = log_in(engine, token, "bench-save")
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql.split("(")[0][:48]))
    rng = random.Random(0)
    wall, cpu, per_save = [], [], []
    for i in range(saves):
        sample_id = rng.choice(sample_ids)
        statements.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        with write_session(engine) as s:
            require_live(s, login.login_id)
            if i % 7 == 6:
                delete_rating(s, rater_id, sample_id)
            else:
                save_rating(s, rater_id, sample_id, Scores(rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5)))
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if i % 7 != 6:
            per_save.append(len(statements))
    engine.dispose()
    wall.sort()
    cpu.sort()
    name = url.split(":")[0].split("+")[0]
    return (f"{name}: {saves} saves, p50 {wall[len(wall) // 2]:.1f} ms, p99 {wall[int(len(wall) * 0.99)]:.1f} ms, "
            f"CPU p50 {cpu[len(cpu) // 2]:.1f} ms, {max(per_save)} statements a save")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=400)
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    args = parser.parse_args()
    for label in args.db:
        if label == "sqlite":
            with tempfile.TemporaryDirectory() as home:
                print(measure(f"sqlite:///{Path(home) / 'emojich.db'}", args.saves), flush=True)
        else:
            from tests.pg_server import PostgresServer

            server = PostgresServer(fsync=True)
            try:
                print(measure(server.start(), args.saves), flush=True)
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
