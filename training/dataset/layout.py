"""A dataset folder on disk: `<home>/datasets/<name>/{rgba,rgb,mask}/<file>.png`,
`metadata.jsonl` (one item per line), `dataset.json` (how it was built), `NOTICE`, `LICENSES/`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from db.errors import EmojichError, NotFound
from db.home import Home
from training.dataset.alpha import alpha_mask, rgba_to_rgb, white_share

SUBDIRS = ("rgba", "rgb", "mask")
METADATA = "metadata.jsonl"
BUILD_INFO = "dataset.json"


class DatasetNotFound(NotFound):
    pass


@dataclass(frozen=True)
class ItemRecord:
    """One line of metadata.jsonl (and one dataset_items row)."""

    file: str
    caption: str
    emoji: str | None
    codepoints: str | None
    source: str
    license: str
    split: str
    white_share: float


def dataset_dir(home: Path, name: str) -> Path:
    return Home.resolve(home).dataset(name)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save_png(image: Image.Image, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)


def prepare_dirs(directory: Path) -> None:
    for sub in SUBDIRS:
        (directory / sub).mkdir(parents=True, exist_ok=True)


def write_item_images(directory: Path, file: str, rgba: Image.Image) -> float:
    """Write rgba/, rgb/ (the report's rule) and mask/ for one item; return its white share."""
    rgb = rgba_to_rgb(rgba)
    mask = alpha_mask(rgba)
    _save_png(rgba, directory / "rgba" / file)
    _save_png(rgb, directory / "rgb" / file)
    _save_png(mask, directory / "mask" / file)
    return white_share(rgb, mask)


def reuse_item_images(directory: Path, file: str, size: int) -> float | None:
    """The white share of an item already on disk at this size, or None if it must be (re)made."""
    paths = [directory / sub / file for sub in SUBDIRS]
    if not all(p.is_file() for p in paths):
        return None
    try:
        with Image.open(paths[1]) as rgb, Image.open(paths[2]) as mask:
            if rgb.size != (size, size) or mask.size != (size, size):
                return None
            return white_share(rgb, mask)
    except OSError:
        return None


def write_metadata(directory: Path, records: list[ItemRecord]) -> None:
    lines = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in records)
    _atomic_write_bytes(directory / METADATA, lines.encode("utf-8"))


def read_metadata(directory: Path) -> list[ItemRecord]:
    path = Path(directory) / METADATA
    if not path.is_file():
        raise DatasetNotFound(f"no dataset at {directory} ({METADATA} missing); run `emojich dataset build`")
    records = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(ItemRecord(**json.loads(line)))
                except (ValueError, TypeError) as exc:
                    raise EmojichError(f"{path}:{number}: bad metadata line ({exc})") from exc
    return records


def write_build_info(directory: Path, info: dict) -> None:
    _atomic_write_bytes(
        directory / BUILD_INFO, json.dumps(info, ensure_ascii=False, indent=2).encode("utf-8")
    )


def read_build_info(directory: Path) -> dict:
    path = Path(directory) / BUILD_INFO
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
