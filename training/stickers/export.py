"""Writing a sticker set: one file per sticker, contact_sheet.png and manifest.json, to a folder or a .zip.

The manifest lists every sticker with its size, bytes, how its mask was made and which path brought it to
512 px (`resolution.py`: native, realesrgan-x4 or the Lanczos fallback, with the reason)."""
from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from db.errors import EmojichError
from training.stickers.contact_sheet import contact_sheet
from training.stickers.resolution import Resolution, make_resolution
from training.stickers.sticker import encode, fit, trim

CONTACT_SHEET = "contact_sheet.png"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class StickerFile:
    name: str
    width: int
    height: int
    size_bytes: int
    note: str = ""
    resolution: str = "lanczos"  # native | realesrgan-x4 | lanczos
    content_px: int = 0  # longer side of the trimmed content before it was brought to 512 px


@dataclass
class ExportReport:
    out: Path
    files: list[StickerFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    methods: dict[str, int] = field(default_factory=dict)  # how the masks were made
    fallback: str | None = None  # why Lanczos stood in for Real-ESRGAN, if it did

    @property
    def resolutions(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.resolution] = counts.get(f.resolution, 0) + 1
        return counts

    def summary(self) -> str:
        largest = max((f.size_bytes for f in self.files), default=0)
        how = ", ".join(f"{m} {n}" for m, n in self.methods.items() if n)
        paths = ", ".join(f"{r} {n}" for r, n in self.resolutions.items())
        if self.fallback and "lanczos" in self.resolutions:
            paths += f" (Lanczos fallback: {self.fallback})"
        return (
            f"{len(self.files)} stickers, {CONTACT_SHEET} and {MANIFEST} written to {self.out} "
            f"(largest file {largest / 1024:.0f} KB{'; masks: ' + how if how else ''}; 512 px by {paths})"
        )


def check_out(out: Path) -> None:
    """One clear error for an --out that cannot be written, before any work is done."""
    out = Path(out)
    if out.suffix.lower() == ".zip":
        if out.is_dir():
            raise EmojichError(f"{out} is a folder; give the .zip file's name")
    elif out.exists() and not out.is_dir():
        raise EmojichError(f"{out} is a file; give a folder or a name ending in .zip")


def write_sticker_set(items: Sequence[tuple[str, Image.Image]], out: Path, fmt: str = "png",
                      resolution: Resolution | None = None, details: Sequence[dict] | None = None) -> ExportReport:
    """`items` are (name without extension, RGBA image). `out` ending in .zip → a zip file. `resolution`
    (default: Lanczos) brings each trimmed sticker to 512 px; `details` add fields to each manifest entry."""
    out = Path(out)
    check_out(out)
    resolution = resolution or Resolution()
    details = list(details) if details is not None else [{} for _ in items]
    stickers, encoded, made = [], [], []
    for name, rgba in items:
        trimmed = trim(rgba)
        enlarged, path = resolution.enlarge(trimmed)
        sticker = fit(enlarged)
        stickers.append(sticker)
        encoded.append((f"{name}.{fmt}", sticker, encode(sticker, fmt)))
        made.append((path, max(trimmed.size)))
    report = ExportReport(out, fallback=resolution.fallback)
    report.files = [StickerFile(f, s.width, s.height, len(e.data), e.note, path, content)
                    for (f, s, e), (path, content) in zip(encoded, made, strict=True)]
    sheet = io.BytesIO()
    contact_sheet(stickers).save(sheet, format="PNG", optimize=True)
    files = {filename: e.data for filename, _, e in encoded}
    files[CONTACT_SHEET] = sheet.getvalue()
    files[MANIFEST] = _manifest(report, resolution, fmt, details)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for filename, data in files.items():
                archive.writestr(filename, data)
        os.replace(tmp, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for filename, data in files.items():
            (out / filename).write_bytes(data)
    return report


def _manifest(report: ExportReport, resolution: Resolution, fmt: str, details: Sequence[dict]) -> bytes:
    stickers = [
        {"file": f.name, **extra, "width": f.width, "height": f.height, "bytes": f.size_bytes,
         "resolution": f.resolution, "content_px": f.content_px, **({"note": f.note} if f.note else {})}
        for f, extra in zip(report.files, details, strict=True)
    ]
    data = {"format": fmt, "upscale": resolution.mode, "device": resolution.device,
            "lanczos_fallback": resolution.fallback, "stickers": stickers}
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def export_stickers(
    session: Session, sample_ids: Sequence[int], out: Path, fmt: str = "png", *, model="latest", device: str = "cpu",
    home: Path | None = None, upscale: str = "auto", cache_dir: Path | None = None,
    resolution: Resolution | None = None,
) -> ExportReport:
    """Stickers for generated samples: a person's accepted mask where there is one, else the
    U-Net (`model`: a LoadedModel, None for the contour method alone, or "latest": the latest
    round's model, the contour method before round 1) with its gate and contour fallback.
    Samples rejected in mask review, and samples whose mask comes out empty, are skipped.
    512 px: `upscale` (auto | realesrgan | lanczos) with Real-ESRGAN's weights looked for in `cache_dir`
    (default: the home's rudalle cache, `<home>/models/rudalle`), on `device`; or a ready `resolution`."""
    from db.home import Home
    from db.segmentation import latest_model_path
    from training.segmentation.model import load_model
    from training.stickers.from_samples import segment_samples

    check_out(out)
    cache_dir = Home.resolve(home).rudalle_cache if cache_dir is None else cache_dir
    resolution = resolution or make_resolution(upscale, cache_dir, device)  # missing weights fail before work
    if model == "latest":
        path = latest_model_path(session)
        model = load_model(Home.resolve(home).from_stored(path), device) if path else None
    segmented, skipped = segment_samples(session, sample_ids, model, device)
    items, details, methods = [], [], {"manual": 0, "unet": 0, "contour": 0}
    for item in segmented:
        if item.rgba.getchannel("A").getbbox() is None:
            skipped.append(f"sample {item.sample_id}: the mask is empty; skipped")
            continue
        items.append((f"sample_{item.sample_id}", item.rgba))
        details.append({"sample_id": item.sample_id, "mask": item.method, "source_px": max(item.rgba.size)})
        methods[item.method] += 1
    if not items:
        raise EmojichError("no stickers to export: " + ("; ".join(skipped) or "no samples given"))
    report = write_sticker_set(items, out, fmt, resolution, details)
    report.skipped, report.methods = skipped, methods
    return report
