"""SQLite writers behind a long one: how long a short write waits for the lock.

    .venv/bin/python bench/bench_write_lock.py [--seconds 8] [--hold-ms 150] [--writers 8]

One connection takes the write lock for --hold-ms at a time (like a checkpoint's 64 images) with
pauses as long; --writers threads each make short writes. Printed: their wait + write latency,
with SQLite's own busy handler (back-off to 100 ms sleeps) and with db/engine.py's (polls every
1-5 ms). Temp database files.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from db.engine import make_engine, write_session  # noqa: E402


def run(mode: str, folder: Path, seconds: float, hold_s: float, writers: int) -> list[float]:
    path = folder / f"{mode.split()[0].replace('/', '_')}.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x INTEGER)")
    setup.close()
    stop = time.time() + seconds
    latencies: list[float] = []

    def holder() -> None:
        con = sqlite3.connect(path, isolation_level=None, timeout=30)
        while time.time() < stop:
            con.execute("BEGIN IMMEDIATE")
            time.sleep(hold_s)
            con.execute("INSERT INTO t VALUES (1)")
            con.execute("COMMIT")
            time.sleep(hold_s)

    def writer() -> None:
        if mode == "sqlite busy handler":
            con = sqlite3.connect(path, isolation_level=None, timeout=30)
            while time.time() < stop:
                started = time.perf_counter()
                con.execute("BEGIN IMMEDIATE")
                con.execute("INSERT INTO t VALUES (2)")
                con.execute("COMMIT")
                latencies.append(time.perf_counter() - started)
                time.sleep(0.05)
            return
        engine = make_engine(f"sqlite:///{path}")
        while time.time() < stop:
            started = time.perf_counter()
            with write_session(engine) as session:
                session.execute(text("INSERT INTO t VALUES (2)"))
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
        engine.dispose()

    threads = [threading.Thread(target=holder)] + [threading.Thread(target=writer) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--hold-ms", type=float, default=150)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emojich-lock-") as folder:
        for mode in ("sqlite busy handler", "db/engine.py polling"):
            lat = run(mode, Path(folder), args.seconds, args.hold_ms / 1000, args.writers)
            p50, p95, p99 = (lat[round(q * (len(lat) - 1))] * 1000 for q in (0.5, 0.95, 0.99))
            print(f"{mode:<22} {len(lat):4d} writes  p50 {p50:6.0f} ms  p95 {p95:6.0f} ms  "
                  f"p99 {p99:6.0f} ms  max {lat[-1] * 1000:6.0f} ms  (lock held {args.hold_ms:.0f} ms at a time)")


if __name__ == "__main__":
    main()
