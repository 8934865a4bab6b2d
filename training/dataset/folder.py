"""Import an existing emoji dataset: a folder of images plus a CSV of (file, caption), such as
the report's Kaggle `russian-emoji` layout, through the same normalisation as the Noto build.

Every bad or normalised input gets one line in the report; the valid rest is imported. Files
only: `register_dataset` then writes the rows in one transaction.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

from tqdm import tqdm

from db.errors import EmojichError
from db.limits import text_problem
from db.models import DatasetItem
from training.dataset.captions import codepoints_of, normalize_caption
from training.dataset.layout import (
    ItemRecord,
    dataset_dir,
    prepare_dirs,
    write_build_info,
    write_item_images,
    write_metadata,
)
from training.dataset.notices import write_folder_notice
from training.dataset.report import BuildReport
from training.dataset.safe_image import MAX_PIXELS, BadInputFile, load_rgba
from training.dataset.split import assign_splits
from training.dataset.upscale import lanczos, make_upscaler

FILE_COLUMNS = ("file", "filename", "file_name", "image", "image_name", "path", "name")
CAPTION_COLUMNS = ("caption", "text", "title", "description", "ru", "name_ru")
EMOJI_COLUMNS = ("emoji", "symbol", "char")
LICENSE_COLUMNS = ("license", "licence")
DEFAULT_LICENSE = "as in the source (see its own notices)"
_UNSAFE = re.compile(r"[^\w.-]+")


class FolderImportError(EmojichError):
    pass


def find_csv(folder: Path) -> Path:
    candidates = sorted(folder.glob("*.csv")) or sorted(folder.parent.glob("*.csv"))
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise FolderImportError(f"cannot tell which CSV describes {folder} (found: {found}); pass --csv FILE")
    return candidates[0]


def _pick(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_caption_csv(path: Path) -> tuple[list[dict], list[str]]:
    """Rows as {file, caption, emoji, license} plus one line per unusable row.

    A header naming the columns is used when present (file/filename/image…, caption/text…);
    otherwise the first two columns are file and caption."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderImportError(f"cannot read CSV {path}: {exc}") from exc
    if not rows:
        raise FolderImportError(f"CSV {path} is empty")
    header = rows[0]
    file_col, caption_col = _pick(header, FILE_COLUMNS), _pick(header, CAPTION_COLUMNS)
    if file_col is None or caption_col is None:
        file_col, caption_col, body, first_line = 0, 1, rows, 1
        emoji_col = license_col = None
    else:
        body, first_line = rows[1:], 2
        emoji_col, license_col = _pick(header, EMOJI_COLUMNS), _pick(header, LICENSE_COLUMNS)
    entries, problems = [], []
    for number, row in enumerate(body, first_line):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, caption_col):
            problems.append(f"{path.name}:{number}: skipped: fewer than two columns")
            continue
        file, caption = row[file_col].strip(), normalize_caption(row[caption_col])
        if not file or not caption:
            problems.append(f"{path.name}:{number}: skipped: empty file name or caption")
            continue
        too_long = _too_long(caption=caption, emoji=_cell(row, emoji_col), license=_cell(row, license_col))
        if too_long:  # found here, before any file is written (db/limits.py: the same on SQLite and PostgreSQL)
            problems.append(f"{path.name}:{number}: skipped: {too_long}")
            continue

        entries.append(
            {
                "file": file,
                "caption": caption,
                "emoji": _cell(row, emoji_col),
                "license": _cell(row, license_col),
            }
        )
    return entries, problems


def _too_long(**values: str | None) -> str | None:
    return next((p for column, v in values.items() if (p := text_problem(DatasetItem, column, v))), None)


def _cell(row: list[str], col: int | None) -> str | None:
    if col is None or col >= len(row):
        return None
    return row[col].strip() or None


class _Finder:
    """Where a CSV's file lives: relative to the folder or to the CSV, else found by its name in
    the folder's subfolders (the Kaggle archive keeps images in subfolders such as rgba/)."""

    def __init__(self, folder: Path, csv_path: Path) -> None:
        self.folder, self.csv_dir = folder, csv_path.parent
        self._by_name: dict[str, list[Path]] | None = None

    def find(self, file: str) -> tuple[Path | None, str]:
        for candidate in (self.folder / file, self.csv_dir / file):
            if candidate.is_file():
                return candidate, ""
        if self._by_name is None:
            self._by_name = {}
            for path in sorted(self.folder.rglob("*")):
                if path.is_file():
                    self._by_name.setdefault(path.name, []).append(path)
        matches = self._by_name.get(Path(file).name, [])
        if len(matches) == 1:
            return matches[0], ""
        if matches:
            where = ", ".join(str(m.parent.relative_to(self.folder)) for m in matches)
            return None, f"ambiguous: a file of that name is in {where}"
        return None, "listed in the CSV but not found"


def output_name(file: str) -> str:
    """A flat, safe PNG name for an input path ("emoji/Ёлка 1.jpg" → "emoji__Ёлка_1.png")."""
    stem = str(Path(file).with_suffix("")).replace("\\", "/").strip("/").replace("/", "__")
    return _UNSAFE.sub("_", stem) + ".png"


def import_folder(
    home: Path,
    folder: Path,
    name: str = "imported",
    csv_path: Path | None = None,
    size: int = 256,
    val_size: int = 143,
    upscale: str = "lanczos",
    seed: int = 0,
    *,
    license: str = DEFAULT_LICENSE,
    max_pixels: int = MAX_PIXELS,
    progress: bool = False,
) -> BuildReport:
    """Normalise every (file, caption) of the CSV into `<home>/datasets/<name>/`. Files only."""
    started = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderImportError(f"{folder} is not a folder")
    if size < 16:
        raise EmojichError(f"--size must be at least 16 px (got {size})")
    csv_path = Path(csv_path) if csv_path else find_csv(folder)
    entries, problems = read_caption_csv(csv_path)
    upscaler = make_upscaler(upscale, Path(home))
    directory = dataset_dir(home, name)
    prepare_dirs(directory)

    finder = _Finder(folder, csv_path)
    made: list[tuple[dict, str, float]] = []
    taken: dict[str, str] = {}
    for entry in tqdm(entries, desc=f"importing {name}", unit="file", disable=not progress):
        file = entry["file"]
        path, why = finder.find(file)
        if path is None:
            problems.append(f"{file}: skipped: {why}")
            continue
        out = output_name(file)
        if out in taken:
            problems.append(f"{file}: skipped: same output name as {taken[out]}")
            continue
        try:
            loaded = load_rgba(path, max_pixels=max_pixels)
        except BadInputFile as exc:
            problems.append(f"{file}: skipped: {exc}")
            continue
        if loaded.notes:
            problems.append(f"{file}: normalised: {'; '.join(loaded.notes)}")
        image = loaded.image
        resized = upscaler(image, size) if image.width < size else lanczos(image, size)
        taken[out] = file
        made.append((entry, out, write_item_images(directory, out, resized)))

    if not made:
        raise FolderImportError(
            f"nothing importable in {folder} ({len(problems)} problems; first: "
            f"{problems[0] if problems else 'the CSV lists no files'})"
        )
    splits = assign_splits([entry["caption"] for entry, _, _ in made], val_size, seed)
    source = f"folder:{folder.name}"
    records = [
        ItemRecord(
            file=out,
            caption=entry["caption"],
            emoji=entry["emoji"],
            codepoints=codepoints_of(entry["emoji"]) if entry["emoji"] else None,
            source=source,
            license=entry["license"] or license,
            split=split,
            white_share=round(share, 6),
        )
        for (entry, out, share), split in zip(made, splits, strict=True)
    ]
    write_metadata(directory, records)
    write_folder_notice(directory, str(folder), license)
    report = BuildReport.of_records(name, directory, records, started, problems=problems)
    write_build_info(
        directory,
        {
            "name": name,
            "source": source,
            "csv": str(csv_path),
            "size": size,
            "upscale": upscale,
            "val_size": val_size,
            "seed": seed,
            "images": report.images,
            "unique_captions": report.unique_captions,
            "problems": len(problems),
        },
    )
    return report
