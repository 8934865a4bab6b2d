"""Segmentation bench: quality on an out-of-style emoji set, the confidence-gate measurement, speed.

    .venv/bin/python bench/bench_segment.py [--home var/bench-segment] [--epochs 3]
        [--encoder resnet18] [--image-size 128] [--n 400] [--reuse]

1. Trains the U-Net (small encoder by default) for a fixed number of epochs on the full Noto dataset
   (built with the dataset helper's `build_noto_dataset` into <home>/datasets/noto-ru if absent),
   with the same functions a round uses; calibrates the gate on Noto's validation split.
2. Quality on OpenMoji and Twemoji (see bench_segment_data.py; art styles the U-Net never
   trained on): mean IoU overall and on white-interior cases (white share ≥ 0.10) for the
   released classic method, our contour method, the U-Net alone and the combined pipeline.
3. The gate measurement: ROC AUC of each confidence score for telling bad masks (IoU < 0.95)
   from good ones, on Noto validation and on each out-of-style set.
4. Speed at 256 px on the CPU (1 and 2 torch threads): contour method, small-encoder U-Net,
   EfficientNet-B7 U-Net (channels-last, batch 16 / 8).

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
from bench_segment_data import SETS, WHITE_INTERIOR_SHARE, load_cases

from training.segmentation import confidence
from training.segmentation.confidence import choose_gate, mask_iou, separation_auc
from training.segmentation.contour import contour_mask, released_mask
from training.segmentation.data import PairSet
from training.segmentation.inference import predict_probabilities
from training.segmentation.model import (
    LoadedModel,
    build_model,
    config_for,
    load_model,
    save_model,
)
from training.segmentation.train import TrainConfig, evaluate, train_unet

SCORES = {
    "mean (released)": confidence.mean_confidence,
    "boundary band": confidence.boundary_confidence,
    "object (emoji, holes filled, + band)": confidence.object_confidence,
    "1st percentile": lambda p: confidence.percentile_confidence(p, 1.0),
    "5th percentile": lambda p: confidence.percentile_confidence(p, 5.0),
}


def noto_pairs(home: Path, split: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from PIL import Image

    from training.dataset import build_noto_dataset
    from training.dataset.layout import read_metadata

    directory = home / "datasets" / "noto-ru"
    if not (directory / "metadata.jsonl").is_file():
        build_noto_dataset(home, name="noto-ru", size=256, val_size=143)
    rgbs, masks = [], []
    for record in read_metadata(directory):
        if record.split != split:
            continue
        with Image.open(directory / "rgb" / record.file) as rgb, Image.open(directory / "mask" / record.file) as mask:
            rgbs.append(np.asarray(rgb.convert("RGB")))
            masks.append(np.asarray(mask.convert("L")) >= 128)
    return rgbs, masks


def train_bench_model(
    home: Path, encoder: str, image_size: int, epochs: int, reuse: bool, device: str = "cpu"
) -> tuple[LoadedModel, dict]:
    path = home / "models" / f"bench_{encoder}_{image_size}.pt"
    info_path = path.with_suffix(".json")
    if reuse and path.is_file() and info_path.is_file():
        return load_model(path), json.loads(info_path.read_text())
    config = config_for(encoder, image_size)
    rgbs, masks = noto_pairs(home, "train")
    data = PairSet.from_arrays(rgbs, masks, image_size)
    del rgbs, masks
    model = build_model(config)
    report = train_unet(
        model, data, TrainConfig(epochs=epochs, batch_size=16, lr=3e-3),
        device=device, progress=True,
    )
    val_rgbs, val_masks = noto_pairs(home, "val")
    evaluation = evaluate(model, image_size, val_rgbs, val_masks, device=device)
    choice = choose_gate({"mean": evaluation.mean_scores, "object": evaluation.object_scores}, evaluation.iou)
    save_model(path, model, config, choice.gate, None)
    info = {
        "encoder": encoder,
        "image_size": image_size,
        "trained_on": device if device == "cpu" else torch.cuda.get_device_name(0),
        "train_images": len(data),
        "steps": report.steps,
        "images_seen": report.images_seen,
        "train_seconds": round(report.seconds, 1),
        "noto_val_iou": evaluation.mean_iou,
        "noto_val_dice": evaluation.mean_dice,
        "gate": choice.gate.describe(),
        "gate_reason": choice.reason,
    }
    info_path.write_text(json.dumps(info, indent=2))
    return LoadedModel(model.to(device).eval(), config, choice.gate, None, path), info


def set_folder(home: Path, name: str, n: int) -> Path:
    """The rendered set, rendering (and fetching) it only when it is not there yet."""
    folder = home / name / "rgba_256"
    if folder.is_dir() and len(list(folder.glob("*.png"))) >= n:
        return folder
    return SETS[name](home, n)


def gate_table(probs: list[np.ndarray], truths: list[np.ndarray]) -> dict[str, float | None]:
    ious = [mask_iou(p >= 0.5, t) for p, t in zip(probs, truths, strict=True)]
    table = {name: separation_auc([fn(p) for p in probs], ious) for name, fn in SCORES.items()}
    table["bad masks"] = int(sum(i < confidence.BAD_IOU for i in ious))
    table["masks"] = len(ious)
    return table


def quality(cases, model: LoadedModel, device: str = "cpu") -> tuple[dict, list[np.ndarray]]:
    probs = predict_probabilities(model.model, model.config.image_size, [c.rgb for c in cases], device=device)
    methods: dict[str, list[float]] = {"released classic": [], "contour (ours)": [], "U-Net alone": [], "combined": []}
    used_unet = 0
    for case, p in zip(cases, probs, strict=True):
        unet = p >= 0.5
        ours = contour_mask(case.rgb)
        scores = confidence.scores(p)
        passes = unet.any() and model.gate.passes(scores)
        used_unet += passes
        methods["released classic"].append(mask_iou(released_mask(case.rgb), case.truth))
        methods["contour (ours)"].append(mask_iou(ours, case.truth))
        methods["U-Net alone"].append(mask_iou(unet, case.truth))
        methods["combined"].append(mask_iou(unet if passes else ours, case.truth))
    white = np.array([c.white_interior for c in cases])
    table = {
        name: {"all": float(np.mean(v)), "white_interior": float(np.mean(np.array(v)[white]))}
        for name, v in methods.items()
    }
    table["_counts"] = {"cases": len(cases), "white_interior": int(white.sum()), "combined_used_unet": int(used_unet)}
    return table, probs


def images_per_second(fn, items, repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn(items)
    return repeat * len(items) / (time.perf_counter() - started)


def speed(cases, model: LoadedModel) -> dict[str, float]:
    """Images per second at 256 px with 1 and 2 torch threads (on a CPU shared with other jobs
    one thread is often faster: two spin-wait on each other)."""
    rgbs = [c.rgb for c in cases]
    out = {"contour img/s (256 px)": images_per_second(lambda xs: [contour_mask(x) for x in xs], rgbs, 2)}
    out["released classic img/s (256 px)"] = images_per_second(lambda xs: [released_mask(x) for x in xs], rgbs[:200])
    small = model.model.cpu()
    b7 = build_model(config_for("efficientnet-b7", 256), pretrained=False).eval()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        predict_probabilities(small, 256, rgbs[:16])  # warm-up
        out[f"U-Net {model.config.encoder} img/s (256 px, {threads} thread(s))"] = images_per_second(
            lambda xs: predict_probabilities(small, 256, xs), rgbs[:96]
        )
        out[f"U-Net {model.config.encoder} img/s ({model.config.image_size} px as trained, {threads} thread(s))"] = (
            images_per_second(lambda xs: predict_probabilities(small, model.config.image_size, xs), rgbs[:96])
        )
        predict_probabilities(b7, 256, rgbs[:4], batch_size=4)
        out[f"U-Net efficientnet-b7 img/s (256 px, {threads} thread(s))"] = images_per_second(
            lambda xs: predict_probabilities(b7, 256, xs, batch_size=8), rgbs[:16]
        )
    return out


def _fmt(value) -> str:
    return "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var/bench-segment"))
    parser.add_argument("--epochs", type=int, default=3, help="U-Net training epochs (a fixed step count)")
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--n", type=int, default=400, help="images per out-of-style set")
    parser.add_argument("--sets", default="openmoji,twemoji", help="comma-separated: openmoji, twemoji")
    parser.add_argument("--reuse", action="store_true", help="reuse the model a previous run trained")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--train-threads", type=int, default=1,
                        help="torch threads while training (1 is fastest on a CPU shared with other jobs)")
    parser.add_argument("--device", default="cpu", help="where to train (cpu or cuda)")
    args = parser.parse_args()
    torch.manual_seed(0)

    torch.set_num_threads(args.train_threads)
    model, info = train_bench_model(args.home, args.encoder, args.image_size, args.epochs, args.reuse, args.device)
    torch.set_num_threads(2)
    print("U-Net: " + ", ".join(f"{k} {_fmt(v)}" for k, v in info.items()))

    val_rgbs, val_masks = noto_pairs(args.home, "val")
    val_probs = predict_probabilities(model.model, model.config.image_size, val_rgbs, device=args.device)
    gates = {"noto validation": gate_table(val_probs, val_masks)}
    results: dict = {"model": info, "sets": {}}
    for name in args.sets.split(","):
        cases = load_cases(set_folder(args.home, name, args.n))
        table, probs = quality(cases, model, args.device)
        counts = table.pop("_counts")
        results["sets"][name] = {"quality": table, "counts": counts}
        gates[name] = gate_table(probs, [c.truth for c in cases])
        print(f"\n{name} (out of style): {counts['cases']} emoji, {counts['white_interior']} white-interior "
              f"(white share ≥ {WHITE_INTERIOR_SHARE}); combined used the U-Net for {counts['combined_used_unet']}")
        print(f"{'method':20s} {'mean IoU all':>13s} {'white-interior':>15s}")
        for method, row in table.items():
            print(f"{method:20s} {row['all']:13.4f} {row['white_interior']:15.4f}")

    print("\nGate measurement: ROC AUC for telling bad masks (IoU < 0.95) from good (higher is better)")
    for where, row in gates.items():
        print(f"  {where} ({row.pop('masks')} masks, {row.pop('bad masks')} bad): "
              + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items()))
    results["gate_auc"] = gates

    speeds = {} if args.skip_speed else speed(load_cases(set_folder(args.home, "openmoji", args.n)), model)
    if speeds:
        print(f"\nSpeed (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        for name, value in speeds.items():
            print(f"  {name}: {value:.1f}")
    results["speed"] = speeds
    (args.home / "bench_segment.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
