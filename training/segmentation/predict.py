"""`emojich segment predict`: segment every image in a folder.

For each input file NAME.ext: NAME.png (RGBA: the image on white, alpha = the mask) and
NAME.mask.png (L, 255 = opaque); one row per file in predictions.csv (file, status ok|rejected,
method unet|contour, both confidence scores, outputs, error). A bad file gets one line on the
`warn` callback and a rejected row; the other files are still processed.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from db.errors import EmojichError
from training.segmentation.contour import ContourParams
from training.segmentation.data import to_rgb_on_white
from training.segmentation.image_input import RejectedImage, open_image
from training.segmentation.inference import segment
from training.segmentation.model import LoadedModel

PREDICTIONS_CSV = "predictions.csv"
BATCH = 16


@dataclass
class PredictionRow:
    file: str
    status: str  # ok | rejected
    method: str = ""  # unet | contour
    confidence_mean: float | None = None
    confidence_object: float | None = None
    output: str = ""
    mask: str = ""
    error: str = ""


@dataclass
class PredictReport:
    rows: list[PredictionRow]
    csv_path: Path

    @property
    def rejected(self) -> list[PredictionRow]:
        return [r for r in self.rows if r.status == "rejected"]

    @property
    def processed(self) -> list[PredictionRow]:
        return [r for r in self.rows if r.status == "ok"]


def rgba_with_mask(rgb: np.ndarray, mask: np.ndarray) -> Image.Image:
    rgba = np.dstack([rgb, np.where(mask, 255, 0).astype(np.uint8)])
    return Image.fromarray(rgba, "RGBA")


def _output_names(files: list[Path]) -> dict[Path, str]:
    """NAME for each file: its stem, or its full name when two files share a stem."""
    names, taken = {}, set()
    for path in files:
        name = path.stem if path.stem not in taken else path.name
        taken.add(name)
        names[path] = name
    return names


def check_folders(input_dir: Path, output_dir: Path) -> None:
    """One clear error for an unusable --input/--output pair (callers run it before loading a model)."""
    if not Path(input_dir).is_dir():
        raise EmojichError(f"input folder {input_dir} does not exist")
    if Path(output_dir).resolve() == Path(input_dir).resolve():
        raise EmojichError("--output must differ from --input (outputs would be read back as inputs)")
    if Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise EmojichError(f"--output {output_dir} is a file, not a folder")


def predict_folder(
    input_dir: Path,
    output_dir: Path,
    model: LoadedModel | None,
    *,
    contour_params: ContourParams = ContourParams(),
    warn: Callable[[str], None] = print,
    device: str = "cpu",
    progress: bool = False,
) -> PredictReport:
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    check_folders(input_dir, output_dir)
    files = sorted(p for p in input_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    output_dir.mkdir(parents=True, exist_ok=True)
    names = _output_names(files)
    rows: dict[Path, PredictionRow] = {}
    pending: list[tuple[Path, np.ndarray]] = []

    def flush() -> None:
        results = segment([rgb for _, rgb in pending], model, contour_params, device=device)
        for (path, rgb), result in zip(pending, results, strict=True):
            name = names[path]
            rgba_with_mask(rgb, result.mask).save(output_dir / f"{name}.png")
            Image.fromarray(np.where(result.mask, 255, 0).astype(np.uint8), "L").save(output_dir / f"{name}.mask.png")
            rows[path] = PredictionRow(
                path.name, "ok", result.method, result.confidence_mean, result.confidence_object,
                f"{name}.png", f"{name}.mask.png",
            )
        pending.clear()

    for path in tqdm(files, desc="segmenting", unit="image", disable=not progress):
        try:
            rgb = to_rgb_on_white(open_image(path))
        except RejectedImage as exc:
            warn(f"rejected {path.name}: {exc}")
            rows[path] = PredictionRow(path.name, "rejected", error=str(exc))
            continue
        pending.append((path, rgb))
        if len(pending) >= BATCH:
            flush()
    if pending:
        flush()

    ordered = [rows[p] for p in files]
    csv_path = output_dir / PREDICTIONS_CSV
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(PredictionRow("", "")).keys()))
        writer.writeheader()
        for row in ordered:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return PredictReport(ordered, csv_path)
