"""Index a dataset folder in the database: one `dataset_items` row per image and its alpha mask
as an accepted ground-truth mask (validation masks flagged), all in one transaction."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from PIL import Image
from sqlalchemy import Engine

from db.dataset import add_items, item_files, update_item
from db.engine import read_session, write_session
from db.errors import EmojichError
from db.images import PreparedImage, prepare_image
from db.masks import NewMask, add_masks
from training.dataset.layout import read_metadata


def _load_mask(path: Path) -> PreparedImage:
    """The mask as stored (mode L, 0/255), encoded here, before the write transaction."""
    try:
        with Image.open(path) as mask:
            return prepare_image(mask.convert("L").point(lambda v: 255 if v >= 128 else 0))
    except OSError as exc:
        raise EmojichError(f"cannot read mask {path}: {exc}") from exc


def register_dataset(engine: Engine, dataset_dir: Path) -> int:
    """Add the folder's items (named after the folder) and their ground-truth masks.

    Idempotent: items already registered are left alone (their caption/split updated if the
    metadata changed). Masks are read and encoded before the write transaction so it stays short.
    Returns the number of items added.
    """
    dataset_dir = Path(dataset_dir)
    name = dataset_dir.name
    records = [asdict(r) for r in read_metadata(dataset_dir)]
    with read_session(engine) as session:
        known = set(item_files(session, name))
    new = [r for r in records if r["file"] not in known]
    masks = {r["file"]: _load_mask(dataset_dir / "mask" / r["file"]) for r in new}
    with write_session(engine) as session:
        existing = item_files(session, name)
        for record in records:
            if record["file"] in existing:
                update_item(session, existing[record["file"]], record)
        todo = [r for r in records if r["file"] not in existing]
        missing = [r["file"] for r in todo if r["file"] not in masks]
        for file in missing:  # registered elsewhere in between and removed again: rare, just load
            masks[file] = _load_mask(dataset_dir / "mask" / file)
        add_masks(session, [
            NewMask(masks[item.file], source="ground_truth", status="accepted", dataset_item_id=item.id,
                    for_validation=item.split == "val")
            for item in add_items(session, name, todo)
        ])
    return len(todo)
