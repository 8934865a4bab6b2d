"""Variants of the demo's U-Net round 1 by encoder, image size, epochs and batch (the demo runs
training/segmentation/rounds.py's DEMO_ROUND, chosen with bench/bench_segment.py): CPU seconds, steps,
validation IoU and Dice, the gate it calibrates.

    .venv/bin/python bench/bench_demo_segmentation.py --home var [--threads 1] \
        --variant mobilenet_v2:32:2:32 --variant resnet18:64:6:16

`--home` must hold the demo's database with its dataset registered (`emojich demo` or `emojich dataset build`
made it). Each variant is a real `run_round` from scratch on a copy of that database, so nothing is changed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import make_engine  # noqa: E402
from training.segmentation.rounds import run_round  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[], help="ENCODER:IMAGE_SIZE:EPOCHS:BATCH")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, {args.threads} thread(s)")
    print("encoder | px | epochs | batch | steps | CPU s | wall s | val IoU | val Dice | gate | val passing gate")
    for variant in args.variant or ["mobilenet_v2:32:2:32"]:
        encoder, size, epochs, batch = variant.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            shutil.copy(args.home / "emojich.db", home / "emojich.db")
            (home / "datasets").symlink_to((args.home / "datasets").resolve(), target_is_directory=True)
            engine = make_engine(f"sqlite:///{home / 'emojich.db'}")
            cpu, wall = time.process_time(), time.perf_counter()
            result = run_round(engine, home, encoder=encoder, image_size=int(size), epochs=int(epochs),
                               batch_size=int(batch), from_previous=False)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            engine.dispose()
        gate = result.gate.gate
        print(f"{encoder} | {size} | {epochs} | {batch} | {result.training.steps} | {cpu:.0f} | {wall:.0f} | "
              f"{result.val_iou:.4f} | {result.val_dice:.4f} | {gate.describe()} ({result.gate.reason}) | "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
