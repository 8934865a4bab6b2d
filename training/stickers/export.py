"""Writing a sticker set: one file per sticker plus contact_sheet.png, to a folder or a .zip."""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from db.errors import EmojichError
from training.stickers.contact_sheet import contact_sheet
from training.stickers.sticker import encode, make_sticker

CONTACT_SHEET = "contact_sheet.png"


@dataclass(frozen=True)
class StickerFile:
    name: str
    width: int
    height: int
    size_bytes: int
    note: str = ""


@dataclass
class ExportReport:
    out: Path
    files: list[StickerFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    methods: dict[str, int] = field(default_factory=dict)  # how the masks were made

    def summary(self) -> str:
        largest = max((f.size_bytes for f in self.files), default=0)
        how = ", ".join(f"{m} {n}" for m, n in self.methods.items() if n)
        return (
            f"{len(self.files)} stickers and {CONTACT_SHEET} written to {self.out} "
            f"(largest file {largest / 1024:.0f} KB{'; masks: ' + how if how else ''})"
        )


def check_out(out: Path) -> None:
    """One clear error for an --out that cannot be written, before any work is done."""
    out = Path(out)
    if out.suffix.lower() == ".zip":
        if out.is_dir():
            raise EmojichError(f"{out} is a folder; give the .zip file's name")
    elif out.exists() and not out.is_dir():
        raise EmojichError(f"{out} is a file; give a folder or a name ending in .zip")


def write_sticker_set(items: Sequence[tuple[str, Image.Image]], out: Path, fmt: str = "png") -> ExportReport:
    """`items` are (name without extension, RGBA image). `out` ending in .zip → a zip file."""
    out = Path(out)
    check_out(out)
    stickers, encoded = [], []
    for name, rgba in items:
        sticker = make_sticker(rgba)
        stickers.append(sticker)
        encoded.append((f"{name}.{fmt}", sticker, encode(sticker, fmt)))
    sheet = io.BytesIO()
    contact_sheet(stickers).save(sheet, format="PNG", optimize=True)
    files = {filename: e.data for filename, _, e in encoded}
    files[CONTACT_SHEET] = sheet.getvalue()
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
    report = ExportReport(out)
    report.files = [StickerFile(f, s.width, s.height, len(e.data), e.note) for f, s, e in encoded]
    return report


def export_stickers(
    session: Session, sample_ids: Sequence[int], out: Path, fmt: str = "png", *, model="latest", device: str = "cpu",
    home: Path | None = None,
) -> ExportReport:
    """Stickers for generated samples: a person's accepted mask where there is one, else the
    U-Net (`model`: a LoadedModel, None for the contour method alone, or "latest": the latest
    round's model, the contour method before round 1) with its gate and contour fallback.
    Samples rejected in mask review, and samples whose mask comes out empty, are skipped."""
    from db.home import Home
    from db.segmentation import latest_model_path
    from training.segmentation.model import load_model
    from training.stickers.from_samples import segment_samples

    check_out(out)
    if model == "latest":
        path = latest_model_path(session)
        model = load_model(Home.resolve(home).from_stored(path), device) if path else None
    segmented, skipped = segment_samples(session, sample_ids, model, device)
    items, methods = [], {"manual": 0, "unet": 0, "contour": 0}
    for item in segmented:
        if item.rgba.getchannel("A").getbbox() is None:
            skipped.append(f"sample {item.sample_id}: the mask is empty; skipped")
            continue
        items.append((f"sample_{item.sample_id}", item.rgba))
        methods[item.method] += 1
    if not items:
        raise EmojichError("no stickers to export: " + ("; ".join(skipped) or "no samples given"))
    report = write_sticker_set(items, out, fmt)
    report.skipped, report.methods = skipped, methods
    return report
