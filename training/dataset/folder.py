"""Import an existing emoji dataset: a folder of images plus a CSV of (file, caption), such as
the report's Kaggle `russian-emoji` layout, through the same normalisation as the Noto build.

Every bad or normalised input gets one line in the report; the valid rest is imported. Files
only: `register_dataset` then writes the rows in one transaction.

Every row resolves inside the folder or is skipped: an absolute path, a `..` step or a link that leads
out is "outside the dataset folder (not read)" whether or not such a file exists, and a file next to a
CSV that lives outside the folder is never looked at. A field longer than its database column (caption
500 characters, ...) or a file name the file system cannot hold is one skipped row.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from pathlib import Path, PurePosixPath

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
OUTSIDE = "outside the dataset folder (not read)"
MAX_NAME_BYTES = 255  # one path component (Linux, macOS, Windows)
OUTPUT_NAME_BYTES = 200  # room for the temporary name the atomic writes use (".NAME.tmp")
MAX_PATH_CHARS = DatasetItem.file.type.length  # what the dataset_items.file column holds
CSV_FIELD_LIMIT = 64 * 2**20  # read any field, then skip what is too long (csv's own limit is 128 KiB)
LIMITS = ("caption", "emoji", "license")  # dataset_items columns checked per row before any file is written


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
    previous_limit = csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows, unreadable = _csv_rows(fh, path.name)
    except (OSError, UnicodeDecodeError) as exc:
        raise FolderImportError(f"cannot read CSV {path}: {exc}") from exc
    finally:
        csv.field_size_limit(previous_limit)
    if not rows:
        raise FolderImportError(f"CSV {path} is empty")
    header = rows[0][1]
    file_col, caption_col = _pick(header, FILE_COLUMNS), _pick(header, CAPTION_COLUMNS)
    if file_col is None or caption_col is None:
        file_col, caption_col, body = 0, 1, rows
        emoji_col = license_col = None
    else:
        body = rows[1:]
        emoji_col, license_col = _pick(header, EMOJI_COLUMNS), _pick(header, LICENSE_COLUMNS)
    entries, problems = [], list(unreadable)
    for number, row in body:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, caption_col):
            problems.append(f"{path.name}:{number}: skipped: fewer than two columns")
            continue
        entry = {"file": row[file_col].strip(), "caption": row[caption_col], "emoji": _cell(row, emoji_col),
                 "license": _cell(row, license_col)}
        problem = next((p for key in LIMITS if (p := text_problem(DatasetItem, key, entry[key]))), None)
        if problem:  # too long for its column, or a NUL: the same words as every other text check (db/limits.py)
            problems.append(f"{path.name}:{number}: skipped: {problem}")
            continue
        entry["caption"] = normalize_caption(entry["caption"])
        if not entry["file"] or not entry["caption"]:
            problems.append(f"{path.name}:{number}: skipped: empty file name or caption")
            continue
        too_long = _too_long(caption=entry["caption"], emoji=entry["emoji"], license=entry["license"])
        if too_long:  # found here, before any file is written (db/limits.py: the same on SQLite and PostgreSQL)
            problems.append(f"{path.name}:{number}: skipped: {too_long}")
            continue
        entries.append(entry)
    return entries, problems


def _too_long(**values: str | None) -> str | None:
    return next((p for column, v in values.items() if (p := text_problem(DatasetItem, column, v))), None)


def _csv_rows(fh, name: str) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """(record number, cells) of every readable record; a record the csv module rejects is one problem."""
    reader, rows, problems, number = csv.reader(fh), [], [], 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return rows, problems
        except csv.Error as exc:
            problems.append(f"{name}:{number}: skipped: {exc}")
            continue
        rows.append((number, row))


def shown(file: str, width: int = 80) -> str:
    """A file name as the report prints it: a huge one shortened (the row is skipped, not echoed)."""
    return file if len(file) <= width else f"{file[:60]}… ({len(file)} characters)"


def _cell(row: list[str], col: int | None) -> str | None:
    if col is None or col >= len(row):
        return None
    return row[col].strip() or None


class _Finder:
    """Where a CSV's file lives, always inside the folder: relative to the folder or to the CSV, else
    found by its name in the folder's subfolders (the Kaggle archive keeps images in subfolders such
    as rgba/). Nothing outside the folder is opened or even tested for existence."""

    def __init__(self, folder: Path, csv_path: Path) -> None:
        self.folder, self.csv_dir = folder, csv_path.parent
        self.root = folder.resolve()
        self._by_name: dict[str, list[Path]] | None = None

    def _inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root)

    def find(self, file: str) -> tuple[Path | None, str]:
        relative = PurePosixPath(file.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or re.match(r"[A-Za-z]:", file):
            return None, OUTSIDE
        if len(file) > MAX_PATH_CHARS or any(len(part.encode()) > MAX_NAME_BYTES for part in relative.parts):
            return None, "file name too long"
        candidate = self.folder / relative
        if not self._inside(candidate):  # a link in the folder that leads out of it
            return None, OUTSIDE
        if candidate.is_file():
            return candidate, ""
        beside_csv = self.csv_dir / relative
        if self._inside(beside_csv) and beside_csv.is_file():
            return beside_csv, ""
        if self._by_name is None:
            self._by_name = {}
            for path in sorted(self.folder.rglob("*")):
                if path.is_file() and self._inside(path):
                    self._by_name.setdefault(path.name, []).append(path)
        matches = self._by_name.get(relative.name, [])
        if len(matches) == 1:
            return matches[0], ""
        if matches:
            where = ", ".join(str(m.parent.relative_to(self.folder)) for m in matches)
            return None, f"ambiguous: a file of that name is in {where}"
        return None, "listed in the CSV but not found"


def output_name(file: str) -> str:
    """A flat, safe PNG name for an input path ("emoji/Ёлка 1.jpg" → "emoji__Ёлка_1.png"); one too long
    for a file system keeps its start and ends in a hash of the whole path."""
    stem = str(Path(file).with_suffix("")).replace("\\", "/").strip("/").replace("/", "__")
    name = _UNSAFE.sub("_", stem) + ".png"
    if len(name.encode()) <= OUTPUT_NAME_BYTES:
        return name
    digest = hashlib.sha1(file.encode()).hexdigest()[:12]
    head = name[:-4].encode()[:OUTPUT_NAME_BYTES - len(digest) - 5].decode("utf-8", errors="ignore")
    return f"{head}_{digest}.png"


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
            problems.append(f"{shown(file)}: skipped: {why}")
            continue
        out = output_name(file)
        if out in taken:
            problems.append(f"{shown(file)}: skipped: same output name as {shown(taken[out])}")
            continue
        try:
            loaded = load_rgba(path, max_pixels=max_pixels)
        except BadInputFile as exc:
            problems.append(f"{shown(file)}: skipped: {exc}")
            continue
        if loaded.notes:
            problems.append(f"{shown(file)}: normalised: {'; '.join(loaded.notes)}")
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
