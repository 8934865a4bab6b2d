"""A cheap fingerprint of the rows that reach the database from outside the workbench while it is serving.

A fine-tune writes a checkpoint with its 64 samples in one transaction, a U-Net round writes its masks
with its round row, `emojich dataset build` registers dataset items, a new run gets a runs row. The
workbench keys its cached query results on this fingerprint, so whatever such a job commits shows up on
the next page run instead of after the cache's time-to-live. Each part is an indexed MIN/MAX or COUNT.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Checkpoint, DatasetItem, Run, SegmentationRound


def data_version(session: Session) -> tuple[int, ...]:
    """Changes whenever a run, checkpoint, segmentation round or dataset item is added or removed."""
    row = session.execute(
        select(
            select(func.count(Run.id)).scalar_subquery(),
            select(func.max(Run.id)).scalar_subquery(),
            select(func.count(Checkpoint.id)).scalar_subquery(),
            select(func.max(Checkpoint.id)).scalar_subquery(),
            select(func.max(SegmentationRound.round)).scalar_subquery(),
            select(func.count(DatasetItem.id)).scalar_subquery(),
        )
    ).one()
    return tuple(int(value or 0) for value in row)
