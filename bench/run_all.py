"""Every CPU benchmark in turn (`make bench`); each prints its own figures.

    .venv/bin/python bench/run_all.py [--skip NAME ...]

GPU figures come from `bash bench/gpu_check.sh` on a CUDA machine (see README).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "dataset": ["bench_dataset.py"],
    "train": ["bench_train.py", "--size", "tiny"],
    "generate": ["bench_generate.py", "--size", "tiny"],
    "captioner": ["bench_captioner.py", "--size", "tiny", "--threads", "1"],
    "dashboard": ["bench_dashboard.py"],
    "rerun-gc": ["bench_rerun_gc.py"],
    "save": ["bench_save.py"],
    "queue": ["bench_queue.py", "--plot", "docs/queue_simulation.png"],
    "segment": ["bench_segment.py"],
    "bot": ["bench_bot.py"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(BENCHES))
    args = parser.parse_args()
    failed = []
    for name, command in BENCHES.items():
        if name in args.skip:
            continue
        print(f"\n=== {name}: {' '.join(command)}", flush=True)
        started = time.perf_counter()
        if name == "segment":
            data = subprocess.run([sys.executable, str(HERE / "bench_segment_data.py")], cwd=HERE.parent)
            if data.returncode != 0:
                failed.append("segment data")
                continue
        result = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], cwd=HERE.parent)
        print(f"=== {name}: {time.perf_counter() - started:.0f} s, exit {result.returncode}", flush=True)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
