"""Contour method only: its quality on Noto validation and the four out-of-style sets, why it
fails, and the worst images side by side.

    .venv/bin/python bench/bench_contour.py [--home var/bench-segment] [--n 400] [--noto-size 256]
        [--sets noto,openmoji,twemoji,fluent,fxemoji] [--variant NAME=FIELD:VALUE,FIELD:VALUE ...]
        [--full-composite] [--jpeg 90] [--noise 2] [--classify] [--list-worse]
        [--dump 12 --dump-dir var/bench-contour]

For each set and each variant (`default` = `ContourParams()`; every `--variant` overrides some of
its fields, e.g. `--variant old=light_paint:0,cut_holes:0`, the plain near-white rule): mean IoU
over all images and over the hard ones (bench_segment.py's definitions: `mask_iou`, the cases'
`hard` flag; on Noto, ≥ 10 % of the foreground near-white), and the share of images below IoU
0.95; each later variant also counts the images it makes better or worse than the first one by
more than 0.01 IoU (`--list-worse` names the worse ones). The sets are the ones
bench_segment_data.py fetches (rendered if absent); Noto validation is read from (or built into,
one process, about a minute) <home>/datasets/noto-ru-<noto-size>.

`--full-composite` composites the out-of-style sets' RGBA over white without the report's cut at
alpha 128 (as `segment predict` reads an RGBA file; Noto stays as built). `--jpeg Q` and
`--noise SIGMA` degrade the images first (JPEG at quality Q, Gaussian noise of
SIGMA levels), as real inputs (generated images, photos of a screen) may be; the truths stay.

`--classify` sorts the first variant's errors on its failing images (IoU < 0.95) into classes,
by error pixels, and names each image by its largest class:

- `true hole filled`: background-white pixels the fill made opaque, enclosed by the drawing;
- `white paint cut`: opaque pure-white (255) paint touching the background, cut away;
- `light paint cut`: opaque near-white paint (below 255, at or above the threshold) cut away,
  off the edge;
- `rim`: missed opaque pixels, not pure white, on the true edge (the anti-aliased border);
- `overgrowth`: transparent pixels made opaque at the edge (closing, bridged outline gaps);
- `specks dropped` / `specks kept`: whole small parts missed, or small parts kept wrongly;
- `other`.

`--dump N` writes the first variant's N worst images per set to <dump-dir>/<set>/ as PNG: the
image, the truth, the prediction and the errors (red: missed, blue: extra) side by side.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from bench_segment_data import SETS, load_cases

from training.segmentation.confidence import BAD_IOU, mask_iou
from training.segmentation.contour import ContourParams, contour_mask

ALL_SETS = ("noto", *SETS)
CLASSES = (
    "true hole filled", "white paint cut", "light paint cut", "rim", "overgrowth",
    "specks dropped", "specks kept", "other",
)


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str
    rgb: np.ndarray
    truth: np.ndarray
    hard: bool


def noto_samples(home: Path, size: int) -> list[Sample]:
    from PIL import Image

    from training.dataset import build_noto_dataset
    from training.dataset.layout import read_metadata

    name = f"noto-ru-{size}"
    directory = home / "datasets" / name
    if not (directory / "metadata.jsonl").is_file():
        build_noto_dataset(home, name=name, size=size, val_size=143, workers=1)
    samples = []
    for record in read_metadata(directory):
        if record.split != "val":
            continue
        with Image.open(directory / "rgb" / record.file) as rgb, Image.open(directory / "mask" / record.file) as mask:
            rgb_a, truth = np.asarray(rgb.convert("RGB")), np.asarray(mask.convert("L")) >= 128
        hard = ((rgb_a.min(-1) >= 235) & truth).sum() >= 0.1 * truth.sum()  # as bench_segment.py
        samples.append(Sample(Path(record.file).stem, rgb_a, truth, bool(hard)))
    return samples


def set_samples(home: Path, name: str, n: int, noto_size: int, full_composite: bool = False) -> list[Sample]:
    """A set's images on white (the report's rule; `full_composite`: every alpha composited over
    white instead, as `segment predict` does with an RGBA file) with the truth alpha ≥ 128."""
    if name == "noto":
        return noto_samples(home, noto_size)
    folder = home / name / "rgba_256"
    if not (folder.is_dir() and len(list(folder.glob("*.png"))) >= n):
        folder = SETS[name](home, n)
    samples = [Sample(c.name, c.rgb, c.truth, c.hard) for c in load_cases(folder)]
    if full_composite:
        from PIL import Image

        from training.segmentation.data import to_rgb_on_white

        for i, s in enumerate(samples):
            with Image.open(folder / f"{s.name}.png") as image:
                samples[i] = dataclasses.replace(s, rgb=to_rgb_on_white(image))
    return samples


def degrade(samples: list[Sample], jpeg: int, noise: float, seed: int = 0) -> list[Sample]:
    """The images as a real input might be: JPEG-compressed at quality `jpeg` (0: not) and/or with
    Gaussian noise of `noise` levels added (0: none); the truths stay."""
    if not jpeg and not noise:
        return samples
    from io import BytesIO

    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for s in samples:
        rgb = s.rgb
        if noise:
            rgb = np.clip(rgb + rng.normal(0, noise, rgb.shape), 0, 255).astype(np.uint8)
        if jpeg:
            buffer = BytesIO()
            Image.fromarray(rgb).save(buffer, format="JPEG", quality=jpeg)
            rgb = np.asarray(Image.open(buffer).convert("RGB"))
        out.append(dataclasses.replace(s, rgb=rgb))
    return out


def parse_variant(text: str) -> tuple[str, ContourParams]:
    """NAME=FIELD:VALUE,FIELD:VALUE → (NAME, ContourParams with those fields replaced)."""
    name, _, spec = text.partition("=")
    fields = {f.name: f.type for f in dataclasses.fields(ContourParams)}
    changes = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition(":")
        if key not in fields:
            raise SystemExit(f"unknown ContourParams field {key!r}; known: {', '.join(fields)}")
        default = getattr(ContourParams(), key)
        changes[key] = type(default)(float(value)) if isinstance(default, int | float) else value
    return name, dataclasses.replace(ContourParams(), **changes)


def _small_parts(mask: np.ndarray, max_area: int) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    small = np.zeros(count, bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
    return small[labels]


def classify(rgb: np.ndarray, truth: np.ndarray, pred: np.ndarray, params: ContourParams) -> Counter:
    """Error pixels of one prediction, by class (see the module docstring)."""
    counts: Counter = Counter()
    white = (rgb == 255).all(-1)
    light = ~white & (rgb >= params.white_threshold).all(-1)
    ring = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    edge = ring & ~cv2.erode(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    speck_area = max(4, int(4 * params.min_area_share * truth.size))

    missed = truth & ~pred
    whole_small = missed & _small_parts(truth, speck_area) & ~_small_parts(pred & truth, truth.size)
    counts["specks dropped"] += int(whole_small.sum())
    missed &= ~whole_small
    counts["white paint cut"] += int((missed & white).sum())
    counts["rim"] += int((missed & ~white & edge).sum())
    counts["light paint cut"] += int((missed & light & ~edge).sum())
    counts["other"] += int((missed & ~white & ~light & ~edge).sum())

    extra = pred & ~truth
    kept_small = extra & _small_parts(pred, speck_area) & ~ring
    counts["specks kept"] += int(kept_small.sum())
    extra &= ~kept_small
    near_edge = extra & cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    # an extra region is a filled hole when it is enclosed by the truth (not connected to the
    # image's edge through transparent truth pixels)
    count, labels = cv2.connectedComponents((~truth).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = ~truth & ~np.isin(labels, border)
    counts["true hole filled"] += int((extra & enclosed).sum())
    counts["overgrowth"] += int((extra & ~enclosed & near_edge).sum())
    counts["other"] += int((extra & ~enclosed & ~near_edge).sum())
    return counts


def side_by_side(rgb: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    def grey(mask):
        return np.repeat(np.where(mask, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)

    errors = rgb.copy() // 2 + 64
    errors[truth & ~pred] = (255, 0, 0)
    errors[pred & ~truth] = (0, 80, 255)
    gap = np.full((rgb.shape[0], 4, 3), 128, np.uint8)
    return np.concatenate([rgb, gap, grey(truth), gap, grey(pred), gap, errors], axis=1)


def row(ious: np.ndarray, hard: np.ndarray) -> str:
    hard_s = f"{ious[hard].mean():.4f}" if hard.any() else "n/a"
    return f"{ious.mean():.4f} / {hard_s} / {(ious < BAD_IOU).mean():5.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("var/bench-segment"))
    parser.add_argument("--n", type=int, default=400, help="images per out-of-style set")
    parser.add_argument("--noto-size", type=int, default=256, help="side of the Noto validation images")
    parser.add_argument("--sets", default=",".join(ALL_SETS), help=f"comma-separated: {', '.join(ALL_SETS)}")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FIELD:VALUE,...",
                        help="ContourParams overrides to compare with the defaults (repeatable)")
    parser.add_argument("--no-default", action="store_true", help="leave out the default parameters")
    parser.add_argument("--classify", action="store_true", help="classify the first variant's failures")
    parser.add_argument("--full-composite", action="store_true",
                        help="composite the out-of-style sets' whole alpha over white (no cut at 128)")
    parser.add_argument("--jpeg", type=int, default=0, help="JPEG-compress the images at this quality first")
    parser.add_argument("--noise", type=float, default=0.0, help="add Gaussian noise of this many levels first")
    parser.add_argument("--list-worse", action="store_true", help="name the images a variant makes worse")
    parser.add_argument("--dump", type=int, default=0, help="write the first variant's N worst images per set")
    parser.add_argument("--dump-dir", type=Path, default=Path("var/bench-contour"))
    args = parser.parse_args()

    variants = ([] if args.no_default else [("default", ContourParams())]) + [parse_variant(v) for v in args.variant]
    if not variants:
        raise SystemExit("nothing to measure")
    for name, params in variants:
        print(f"{name}: {params}")
    width = max(len(name) for name, _ in variants)
    summary = []
    for set_name in args.sets.split(","):
        samples = set_samples(args.home, set_name, args.n, args.noto_size, args.full_composite)
        samples = degrade(samples, args.jpeg, args.noise)
        hard = np.array([s.hard for s in samples])
        print(f"\n{set_name}: {len(samples)} images, {int(hard.sum())} hard — IoU all / hard / < {BAD_IOU}")
        first_preds, first_ious = None, None
        for name, params in variants:
            started = time.perf_counter()
            preds = [contour_mask(s.rgb, params) for s in samples]
            seconds = time.perf_counter() - started
            ious = np.array([mask_iou(p, s.truth) for p, s in zip(preds, samples, strict=True)])
            versus = ""
            if first_ious is not None:  # per image, against the first variant
                worse, better = ious < first_ious - 0.01, ious > first_ious + 0.01
                versus = f"  vs {variants[0][0]}: {int(better.sum())} better, {int(worse.sum())} worse by > 0.01"
                if args.list_worse and worse.any():
                    versus += " (" + ", ".join(
                        f"{samples[i].name} {first_ious[i]:.3f}→{ious[i]:.3f}" for i in np.flatnonzero(worse)) + ")"
            print(f"  {name:{width}s}  {row(ious, hard)}  ({len(samples) / seconds:.0f} images/s){versus}")
            summary.append((set_name, name, row(ious, hard)))
            if first_preds is None:
                first_preds, first_ious = preds, ious
        params = variants[0][1]
        if args.classify:
            totals: Counter = Counter()
            by_image: Counter = Counter()
            for s, p, iou in zip(samples, first_preds, first_ious, strict=True):
                if iou >= BAD_IOU:
                    continue
                counts = classify(s.rgb, s.truth, p, params)
                totals += counts
                by_image[counts.most_common(1)[0][0] if counts else "other"] += 1
            failing = int((first_ious < BAD_IOU).sum())
            print(f"  failures of {variants[0][0]} ({failing} images), by largest class: "
                  + ", ".join(f"{c} {by_image[c]}" for c in CLASSES if by_image[c]))
            print("  error pixels on them: " + ", ".join(f"{c} {totals[c]}" for c in CLASSES if totals[c]))
        if args.dump:
            from PIL import Image

            folder = args.dump_dir / set_name
            folder.mkdir(parents=True, exist_ok=True)
            for rank, index in enumerate(np.argsort(first_ious)[: args.dump]):
                s = samples[index]
                picture = side_by_side(s.rgb, s.truth, first_preds[index])
                target = folder / f"{rank:02d}_{first_ious[index]:.3f}_{s.name}.png"
                Image.fromarray(picture).save(target)
            print(f"  worst {args.dump} written to {folder}/")

    if len(variants) > 1:
        print("\nsummary (IoU all / hard / < 0.95)")
        for set_name, name, text in summary:
            print(f"  {set_name:9s} {name:{width}s}  {text}")


if __name__ == "__main__":
    main()
