"""Full Noto + CLDR dataset build (and its registration in a fresh SQLite DB), with figures.

    .venv/bin/python bench/bench_dataset.py [--workers 2] [--keep DIR]

Prints elapsed seconds, image count, unique captions, share of 1–2-word captions, skipped emoji.
Target: the build in under 60 s on 2 cores (the report: 2,749 images, 1,611 captions, 67 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from db.engine import make_engine
from db.migrate import upgrade
from training.dataset import build_noto_dataset, read_metadata, register_dataset, stats_from_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="processes (default: 2 on ≥2 cores)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--keep", type=Path, default=None, help="build into this home instead of a temp dir")
    parser.add_argument("--no-register", action="store_true", help="skip the database registration")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp)
        started = time.perf_counter()
        report = build_noto_dataset(home, size=args.size, workers=args.workers)
        build_s = time.perf_counter() - started
        stats = stats_from_records(report.name, read_metadata(report.directory))
        print(f"build: {build_s:.1f} s ({report.reused} reused)")
        print(f"images: {report.images} ({report.train} train, {report.val} val)")
        print(f"unique captions: {report.unique_captions}")
        print(f"1–2-word captions: {stats.short_share:.1%}")
        print(f"skipped (not in the font): {report.skipped_missing}")
        print("words per caption: " + ", ".join(f"{w}: {n}" for w, n in sorted(stats.word_counts.items())))
        if not args.no_register:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            engine = make_engine(url)
            started = time.perf_counter()
            added = register_dataset(engine, report.directory)
            print(f"register: {time.perf_counter() - started:.1f} s ({added} items + ground-truth masks)")
            engine.dispose()


if __name__ == "__main__":
    main()
