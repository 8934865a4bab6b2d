"""Masks: ground truth from the dataset's alpha, U-Net predictions, contour suggestions, manual fixes."""
from __future__ import annotations

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.images import put_image
from db.models import MASK_SOURCES, MASK_STATUSES, Mask


def add_mask(
    session: Session,
    mask: PILImage.Image,
    *,
    source: str,
    status: str,
    dataset_item_id: int | None = None,
    sample_id: int | None = None,
    round: int | None = None,
    confidence_mean: float | None = None,
    confidence_boundary: float | None = None,
    rater_id: int | None = None,
    for_validation: bool = False,
) -> Mask:
    """Store a mask image (mode L, 255 = opaque) and its row in the caller's transaction."""
    if source not in MASK_SOURCES:
        raise ValueError(f"unknown mask source {source!r}; expected one of {', '.join(MASK_SOURCES)}")
    if status not in MASK_STATUSES:
        raise ValueError(f"unknown mask status {status!r}; expected one of {', '.join(MASK_STATUSES)}")
    if (dataset_item_id is None) == (sample_id is None):
        raise ValueError("a mask belongs to exactly one dataset item or one sample")
    sha = put_image(session, mask.convert("L"))
    row = Mask(
        dataset_item_id=dataset_item_id,
        sample_id=sample_id,
        image_sha256=sha,
        source=source,
        status=status,
        round=round,
        confidence_mean=confidence_mean,
        confidence_boundary=confidence_boundary,
        rater_id=rater_id,
        for_validation=for_validation,
    )
    session.add(row)
    session.flush()
    return row


def list_masks_for_sample(session: Session, sample_id: int) -> list[Mask]:
    return list(session.scalars(select(Mask).where(Mask.sample_id == sample_id).order_by(Mask.id)))
