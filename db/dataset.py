"""Dataset items (the DB index of dataset folders on disk) and their statistics, in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.limits import TextTooLong, text_problem
from db.models import SPLITS, DatasetItem, Mask

ITEM_FIELDS = ("file", "caption", "emoji", "codepoints", "source", "license", "split", "white_share")


class DatasetItemNotFound(NotFound):
    pass


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    items: int
    train: int
    val: int
    unique_captions: int


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def list_items(session: Session, dataset: str, split: str | None = None) -> list[DatasetItem]:
    """Items of `dataset` (optionally one split), in file order."""
    _check_split(split)
    query = select(DatasetItem).where(DatasetItem.dataset == dataset)
    if split is not None:
        query = query.where(DatasetItem.split == split)
    return list(session.scalars(query.order_by(DatasetItem.file)))


def count_items(session: Session, dataset: str, split: str | None = None) -> int:
    _check_split(split)
    query = select(func.count(DatasetItem.id)).where(DatasetItem.dataset == dataset)
    if split is not None:
        query = query.where(DatasetItem.split == split)
    return session.scalar(query) or 0


def count_unique_captions(session: Session, dataset: str) -> int:
    query = select(func.count(func.distinct(DatasetItem.caption))).where(DatasetItem.dataset == dataset)
    return session.scalar(query) or 0


def caption_word_counts(session: Session, dataset: str) -> dict[int, int]:
    """Words per caption → number of items (the report's Figure 2). Captions are stored
    normalised (single spaces), so words = spaces + 1."""
    words = func.length(DatasetItem.caption) - func.length(func.replace(DatasetItem.caption, " ", "")) + 1
    rows = session.execute(
        select(words.label("words"), func.count(DatasetItem.id))
        .where(DatasetItem.dataset == dataset)
        .group_by("words")
        .order_by("words")
    )
    return {int(n): int(count) for n, count in rows}


def list_datasets(session: Session) -> list[DatasetSummary]:
    rows = session.execute(
        select(
            DatasetItem.dataset,
            func.count(DatasetItem.id),
            func.sum(case((DatasetItem.split == "train", 1), else_=0)),
            func.sum(case((DatasetItem.split == "val", 1), else_=0)),
            func.count(func.distinct(DatasetItem.caption)),
        )
        .group_by(DatasetItem.dataset)
        .order_by(DatasetItem.dataset)
    )
    return [
        DatasetSummary(
            name=name, items=items, train=int(train or 0), val=int(val or 0), unique_captions=unique
        )
        for name, items, train, val, unique in rows
    ]


def item_files(session: Session, dataset: str) -> dict[str, DatasetItem]:
    """file → item, for the items of `dataset` already in the database."""
    return {item.file: item for item in list_items(session, dataset)}


def add_items(session: Session, dataset: str, records: Iterable[Mapping]) -> list[DatasetItem]:
    """Insert items (mappings with ITEM_FIELDS) in the caller's transaction; returns them with ids.
    Every text is checked against its column first (TextTooLong names the file): nothing is written."""
    records = list(records)
    for record in records:
        for key in ("dataset", *ITEM_FIELDS):
            problem = text_problem(DatasetItem, key, dataset if key == "dataset" else record[key])
            if problem:
                raise TextTooLong(f"{record['file'][:80]}: {problem}; nothing was registered")
    items = [DatasetItem(dataset=dataset, **{k: record[k] for k in ITEM_FIELDS}) for record in records]
    session.add_all(items)
    session.flush()
    return items


def update_item(session: Session, item: DatasetItem, record: Mapping) -> bool:
    """Bring an item in line with its metadata record; a split change moves its ground-truth
    masks in or out of validation. Returns whether anything changed."""
    changed = False
    for key in ITEM_FIELDS:
        if getattr(item, key) != record[key]:
            setattr(item, key, record[key])
            changed = True
    if changed:
        session.execute(
            update(Mask)
            .where(Mask.dataset_item_id == item.id, Mask.source == "ground_truth")
            .values(for_validation=item.split == "val")
        )
        session.flush()
    return changed


def count_ground_truth_masks(session: Session, dataset: str, for_validation: bool | None = None) -> int:
    query = (
        select(func.count(Mask.id))
        .join(DatasetItem, Mask.dataset_item_id == DatasetItem.id)
        .where(DatasetItem.dataset == dataset, Mask.source == "ground_truth")
    )
    if for_validation is not None:
        query = query.where(Mask.for_validation.is_(for_validation))
    return session.scalar(query) or 0


def mean_white_share(session: Session, dataset: str) -> float | None:
    query = select(func.avg(DatasetItem.white_share)).where(DatasetItem.dataset == dataset)
    value = session.scalar(query)
    return None if value is None else float(value)
