"""The tiny VAE's cost and quality by geometry and step count (how configs/tiny.toml's [vae] was chosen).

    .venv/bin/python bench/bench_tiny_vae.py --home var [--steps 300 600] [--threads 1 2]
        [--variant base:ch_mult=1,2,4] [--variant narrow:ch_mult=1,1,2] [--out docs/vae_recon.png]

For each variant, thread count and step count it trains the tiny VAE exactly as the demo does
(training/tiny/vae.py, seeded) on the home's tiny dataset, then prints seconds per step (wall and CPU),
held-out L1 of the round trip through the codes, codes used, and writes a picture: originals on top,
one row of validation reconstructions per variant. Machine load (1-minute average) is printed too,
because on a shared machine the wall-clock figure depends on it.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import load_config  # noqa: E402
from training.dalle.data import read_examples  # noqa: E402
from training.dataset.layout import dataset_dir  # noqa: E402
from training.tiny.vae import reconstruct, train_vae  # noqa: E402


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, spec = text.partition(":")
    values = {}
    for part in filter(None, spec.split(";")):
        key, _, value = part.partition("=")
        values[key] = [int(v) for v in value.split(",")] if key == "ch_mult" else type_of(key)(value)
    return name, values


def type_of(key: str):
    return float if key in ("lr", "kl_weight", "temperature_start", "temperature_end") else int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var"))
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--steps", type=int, nargs="+", default=[600])
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()])
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:key=value;key=value (vae.* fields; ch_mult=1,2,4); default: the config's")
    parser.add_argument("--out", type=Path, default=None, help="reconstruction picture (PNG)")
    parser.add_argument("--keep", type=Path, default=None, help="keep each trained VAE in this folder")
    args = parser.parse_args()
    config = load_config(args.config)
    folder = dataset_dir(args.home, config.data.dataset)
    train = read_examples(folder, config.vae.resolution).images
    val = read_examples(folder, config.vae.resolution, split="val").images
    variants = [parse_variant(v) for v in args.variant] or [("config", {})]
    rows = [val[:16]]
    print(f"{len(train)} train / {len(val)} validation images at {config.vae.resolution} px; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("variant | threads | steps | s/step wall | s/step CPU | val L1 | codes used")
    for name, values in variants:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for steps in args.steps:
                vc = dataclasses.replace(config.vae, **values, steps=steps)
                cfg = dataclasses.replace(config, vae=vc)
                path = (args.keep or Path("/tmp")) / f"vae_{name}_{threads}t_{steps}.pt"
                cpu0, wall0 = time.process_time(), time.perf_counter()
                train_vae(train, cfg, path, progress=False)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                from training.tiny.vae import load_vae

                vae = load_vae(path)
                recon = reconstruct(vae, val)
                l1 = F.l1_loss(recon, val).item()
                used = vae.get_codebook_indices(val, disable_gumbel_softmax=True).unique().numel()
                if args.keep is None:
                    path.unlink()
                print(f"{name} {values} | {threads} | {steps} | {wall / max(steps, 1):.3f} | "
                      f"{cpu / max(steps, 1):.3f} | {l1:.4f} | {used} (load {os.getloadavg()[0]:.1f})", flush=True)
                rows.append(recon[:16])
    if args.out:
        grid = torch.cat(rows)  # [rows*16, 3, R, R]
        r = config.vae.resolution
        picture = Image.new("RGB", (16 * r * 3, len(rows) * r * 3), "white")
        for i, image in enumerate(grid):
            tile = Image.fromarray((image.clamp(0, 1).permute(1, 2, 0) * 255).round().byte().numpy(), "RGB")
            picture.paste(tile.resize((r * 3, r * 3), Image.NEAREST), ((i % 16) * r * 3, (i // 16) * r * 3))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        picture.save(args.out)
        print(f"picture: {args.out}")


if __name__ == "__main__":
    main()
