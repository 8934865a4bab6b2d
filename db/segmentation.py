"""Segmentation rounds and the data they read: training and validation masks, undecided samples.

Which mask counts for a subject is one rule, `db.masks.effective_mask_rows` (a person's word wins, then the
latest accepted machine or ground-truth mask); training uses the effective masks that are accepted.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from db.masks import effective_mask_rows
from db.models import DatasetItem, Mask, Sample, SegmentationRound


@dataclass(frozen=True)
class TrainingMask:
    """One mask for training or validation, with where its RGB image lives."""

    mask_id: int
    mask_sha256: str
    source: str
    for_validation: bool
    dataset: str | None = None  # dataset items: the RGB is <home>/datasets/<dataset>/rgb/<file>
    file: str | None = None
    sample_id: int | None = None  # samples: the RGB is the sample's image in the image store
    sample_image_sha256: str | None = None


def _effective_masks(session: Session, for_validation: bool) -> list[TrainingMask]:
    ranked = effective_mask_rows()
    query = (
        select(
            Mask.id,
            Mask.image_sha256,
            Mask.source,
            Mask.for_validation,
            DatasetItem.dataset,
            DatasetItem.file,
            Mask.sample_id,
            Sample.image_sha256,
        )
        .join(ranked, and_(ranked.c.mask_id == Mask.id, ranked.c.rank == 1))
        .outerjoin(DatasetItem, DatasetItem.id == Mask.dataset_item_id)
        .outerjoin(Sample, Sample.id == Mask.sample_id)
        .where(Mask.status == "accepted", Mask.for_validation.is_(for_validation))
        .order_by(Mask.id)
    )
    return [TrainingMask(*row) for row in session.execute(query)]


def list_training_masks(session: Session) -> list[TrainingMask]:
    """Ground truth, accepted pseudo-labels and manual fixes not kept for validation."""
    return _effective_masks(session, for_validation=False)


def list_validation_masks(session: Session) -> list[TrainingMask]:
    """The dataset's validation split plus manual fixes marked for validation."""
    return _effective_masks(session, for_validation=True)


def _decided(sample_id_column):
    return exists().where(
        Mask.sample_id == sample_id_column,
        or_(Mask.source == "manual", and_(Mask.source == "unet", Mask.status == "accepted")),
    )


def list_undecided_samples(session: Session, limit: int | None = None) -> list[tuple[int, str]]:
    """(sample id, image sha256) of generated samples with neither an accepted U-Net mask nor a
    person's decision: those a round predicts on (queued ones are predicted again)."""
    query = select(Sample.id, Sample.image_sha256).where(~_decided(Sample.id)).order_by(Sample.id)
    if limit is not None:
        query = query.limit(limit)
    return [(sample_id, sha) for sample_id, sha in session.execute(query)]


def count_undecided_samples(session: Session) -> int:
    return session.scalar(select(func.count(Sample.id)).where(~_decided(Sample.id))) or 0


def next_round_number(session: Session) -> int:
    return (session.scalar(select(func.max(SegmentationRound.round))) or 0) + 1


def add_segmentation_round(session: Session, **fields) -> SegmentationRound:
    row = SegmentationRound(**fields)
    session.add(row)
    session.flush()
    return row


def list_segmentation_rounds(session: Session) -> list[SegmentationRound]:
    return list(session.scalars(select(SegmentationRound).order_by(SegmentationRound.round)))


def count_segmentation_rounds(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SegmentationRound)) or 0


def latest_model_path(session: Session) -> str | None:
    """The model file of the latest round that saved one."""
    return session.scalar(
        select(SegmentationRound.model_path)
        .where(SegmentationRound.model_path.is_not(None))
        .order_by(SegmentationRound.round.desc())
        .limit(1)
    )


def count_round_masks(session: Session, round: int) -> dict[str, int]:
    """How many masks a round stored, by source (`unet` accepted, `contour` queued)."""
    rows = session.execute(
        select(Mask.source, func.count(Mask.id)).where(Mask.round == round).group_by(Mask.source)
    )
    return {source: count for source, count in rows}
