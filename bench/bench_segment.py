"""Segmentation bench: the demo's U-Net, the pipeline and its parts on emoji art it never saw.

    .venv/bin/python bench/bench_segment.py [--home var/bench-segment] [--n 400] [--reuse]
        [--sets openmoji,twemoji,fluent,fxemoji] [--encoder resnet18 --image-size 64 --steps 400]

1. Trains the U-Net the way the CPU demo's round 1 does (rounds.DEMO_ROUND: resnet18 at 64 px,
   400 fixed steps, batch 16, style augmentations) on the Noto dataset at 64 px (built into
   <home>/datasets/noto-ru-64 if absent), and calibrates its gate the way a round does: Noto
   validation plus style-augmented copies until enough masks are bad (calibration.py).
2. For Noto validation (in style) and each out-of-style set (bench_segment_data.py: OpenMoji,
   Twemoji, Fluent Emoji Flat, Firefox OS Emoji), every method: the released classic method, our
   contour method, the U-Net alone, the combined pipeline (fused, calibrated gate, contour below
   it) and the released gate (the report's switch: the U-Net's whole mask when mean ≥ 0.99, else
   contour). Mean IoU over all images and over the hard ones (white interiors, white touching the
   outline), the share of images below IoU 0.95, and for the two gated methods the share the gate
   accepted and its precision (the share of accepted masks that are good, IoU ≥ 0.95).
3. Speed at 256 px (1 torch thread): contour, released, U-Net alone, combined.

Figures are printed and written to <home>/bench_segment.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from bench_segment_data import SETS, load_cases

from training.segmentation.calibration import calibration_set
from training.segmentation.confidence import BAD_IOU, RELEASED_GATE, choose_gate, gate_precision, mask_iou
from training.segmentation.contour import contour_mask, released_mask
from training.segmentation.data import PairSet
from training.segmentation.inference import decide, predict_probabilities
from training.segmentation.model import LoadedModel, build_model, config_for, load_model, save_model
from training.segmentation.rounds import DEMO_ROUND
from training.segmentation.train import TrainConfig, evaluate, train_unet

METHODS = ("released classic", "contour (ours)", "U-Net alone", "combined", "released gate")


def noto_pairs(home: Path, split: str, size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from PIL import Image

    from training.dataset import build_noto_dataset
    from training.dataset.layout import read_metadata

    name = f"noto-ru-{size}"
    directory = home / "datasets" / name
    if not (directory / "metadata.jsonl").is_file():
        build_noto_dataset(home, name=name, size=size, val_size=143)
    rgbs, masks = [], []
    for record in read_metadata(directory):
        if record.split != split:
            continue
        with Image.open(directory / "rgb" / record.file) as rgb, Image.open(directory / "mask" / record.file) as mask:
            rgbs.append(np.asarray(rgb.convert("RGB")))
            masks.append(np.asarray(mask.convert("L")) >= 128)
    return rgbs, masks


def train_bench_model(home: Path, args) -> tuple[LoadedModel, dict]:
    path = home / "models" / f"bench_{args.encoder}_{args.image_size}_{args.steps}.pt"
    info_path = path.with_suffix(".json")
    if args.reuse and path.is_file() and info_path.is_file():
        return load_model(path), json.loads(info_path.read_text())
    config = config_for(args.encoder, args.image_size)
    rgbs, masks = noto_pairs(home, "train", args.data_size)
    data = PairSet.from_arrays(rgbs, masks, args.image_size)
    del rgbs, masks
    model = build_model(config)
    cfg = TrainConfig(steps=args.steps, batch_size=DEMO_ROUND["batch_size"], lr=DEMO_ROUND["lr"])
    report = train_unet(model, data, cfg, progress=True)
    val_rgbs, val_masks = noto_pairs(home, "val", args.data_size)
    evaluation = evaluate(model, args.image_size, val_rgbs, val_masks)
    calibration = calibration_set(model, args.image_size, val_rgbs, val_masks)
    choice = choose_gate(calibration.scores, calibration.ious, fuse=True)
    save_model(path, model, config, choice.gate, None)
    info = {
        "encoder": args.encoder, "image_size": args.image_size, "steps": report.steps,
        "train_images": len(data), "train_seconds": round(report.seconds, 1),
        "train_load_average": round(os.getloadavg()[0], 1),
        "noto_val_iou": evaluation.mean_iou, "gate": choice.gate.describe(), "gate_reason": choice.reason,
        "calibration_masks": choice.masks, "calibration_bad": choice.bad,
    }
    info_path.write_text(json.dumps(info, indent=2))
    return LoadedModel(model.eval(), config, choice.gate, None, path), info


def set_folder(home: Path, name: str, n: int) -> Path:
    """The rendered set, rendering (and fetching) it only when it is not there yet."""
    folder = home / name / "rgba_256"
    if folder.is_dir() and len(list(folder.glob("*.png"))) >= n:
        return folder
    return SETS[name](home, n)


def _row(ious: list[float], hard: np.ndarray, accepted: list[bool] | None = None) -> dict:
    ious_a = np.asarray(ious)
    row = {
        "all": float(ious_a.mean()),
        "hard": float(ious_a[hard].mean()) if hard.any() else None,
        "below_0.95": float((ious_a < BAD_IOU).mean()),
    }
    if accepted is not None:
        row["accepted"] = float(np.mean(accepted))
        row["gate_precision"] = gate_precision(accepted, ious)
    return row


def quality(rgbs, truths, hard, model: LoadedModel) -> dict:
    size = model.config.image_size
    probs = predict_probabilities(model.model, size, rgbs)
    ious = {m: [] for m in METHODS}
    accepted = {"combined": [], "released gate": []}
    for rgb, truth, p in zip(rgbs, truths, probs, strict=True):
        combined = decide(rgb, p, model.gate, size)
        switched = decide(rgb, p, RELEASED_GATE, size)
        ious["released classic"].append(mask_iou(released_mask(rgb), truth))
        ious["contour (ours)"].append(mask_iou(contour_mask(rgb), truth))
        ious["U-Net alone"].append(mask_iou(p >= 0.5, truth))
        ious["combined"].append(mask_iou(combined.mask, truth))
        ious["released gate"].append(mask_iou(switched.mask, truth))
        accepted["combined"].append(combined.method == "unet")
        accepted["released gate"].append(switched.method == "unet")
    # gate precision is over the masks the gate accepted, i.e. the U-Net-decided ones
    return {m: _row(v, hard, accepted.get(m)) for m, v in ious.items()}


def images_per_second(fn, items) -> float:
    started = time.perf_counter()
    fn(items)
    return len(items) / (time.perf_counter() - started)


def speed(rgbs, model: LoadedModel) -> dict[str, float]:
    size = model.config.image_size
    torch.set_num_threads(1)
    predict_probabilities(model.model, size, rgbs[:16])  # warm-up

    def combined(xs):
        for rgb, p in zip(xs, predict_probabilities(model.model, size, xs), strict=True):
            decide(rgb, p, model.gate, size)

    return {
        "contour": images_per_second(lambda xs: [contour_mask(x) for x in xs], rgbs),
        "released classic": images_per_second(lambda xs: [released_mask(x) for x in xs], rgbs),
        "U-Net alone": images_per_second(lambda xs: predict_probabilities(model.model, size, xs), rgbs),
        "combined": images_per_second(combined, rgbs),
    }


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def print_table(name: str, n: int, n_hard: int, table: dict) -> None:
    print(f"\n{name}: {n} images, {n_hard} hard")
    print(f"{'method':18s} {'IoU all':>8s} {'IoU hard':>9s} {'< 0.95':>7s} {'accepted':>9s} {'gate precision':>15s}")
    for method, row in table.items():
        acc = f"{row['accepted']:9.1%}" if "accepted" in row else f"{'':9s}"
        prec = row.get("gate_precision")
        prec_s = f"{prec:15.1%}" if prec is not None else f"{'' if 'accepted' not in row else 'n/a':>15s}"
        print(f"{method:18s} {row['all']:8.4f} {_fmt(row['hard']):>9s} {row['below_0.95']:7.1%} {acc} {prec_s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var/bench-segment"))
    parser.add_argument("--encoder", default=DEMO_ROUND["encoder"])
    parser.add_argument("--image-size", type=int, default=DEMO_ROUND["image_size"])
    parser.add_argument("--steps", type=int, default=DEMO_ROUND["steps"])
    parser.add_argument("--data-size", type=int, default=64, help="side of the Noto training images (the demo's: 64)")
    parser.add_argument("--n", type=int, default=400, help="images per out-of-style set")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated: {', '.join(SETS)}")
    parser.add_argument("--reuse", action="store_true", help="reuse the model a previous run trained")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # fastest on a CPU shared with other jobs

    model, info = train_bench_model(args.home, args)
    print("U-Net: " + ", ".join(f"{k} {_fmt(v)}" for k, v in info.items()))
    results: dict = {"model": info, "sets": {}}

    val_rgbs, val_masks = noto_pairs(args.home, "val", args.data_size)
    val_hard = np.array([((rgb.min(-1) >= 235) & m).sum() >= 0.1 * m.sum() for rgb, m in zip(val_rgbs, val_masks, strict=True)])
    table = quality(val_rgbs, val_masks, val_hard, model)
    results["sets"]["noto validation (in style)"] = table
    print_table("noto validation (in style, 64 px)", len(val_rgbs), int(val_hard.sum()), table)
    for name in args.sets.split(","):
        cases = load_cases(set_folder(args.home, name, args.n))
        hard = np.array([c.hard for c in cases])
        table = quality([c.rgb for c in cases], [c.truth for c in cases], hard, model)
        results["sets"][name] = {**table, "_counts": {"images": len(cases), "hard": int(hard.sum())}}
        print_table(f"{name} (out of style, 256 px)", len(cases), int(hard.sum()), table)

    if not args.skip_speed:
        cases = load_cases(set_folder(args.home, "openmoji", args.n))[:160]
        speeds = speed([c.rgb for c in cases], model)
        print(f"\nSpeed, images/s at 256 px, 1 torch thread (load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores):")
        for name, value in speeds.items():
            print(f"  {name}: {value:.1f}")
        results["speed"] = speeds
    (args.home / "bench_segment.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
