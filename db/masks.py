"""Masks: ground truth from the dataset's alpha, U-Net predictions, contour suggestions, manual fixes.

The review queue (the workbench's Masks page): `list_review_queue`, then a person's decision
with `accept_manual_mask` (their mask, possibly the suggestion unchanged) or `reject_sample_mask`
(the sample cannot be segmented usefully: left out of training and of later rounds). Machine
rows are never rewritten; a person's row simply wins.

Which mask counts for a subject (a dataset item or a sample) is written once, here (`effective_mask_rows`,
`effective_masks`): among the subject's masks that are decisions — manual ones (accepted or rejected) and
accepted ground-truth, U-Net or contour ones — manual ones come first, newest first; the first is the
subject's effective mask. Rounds train on it when it is accepted; the Stickers preview and the sticker
export both show and use exactly it (a rejected one leaves the sample out). Suggestions waiting for review
never count.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from db.errors import EmojichError, NotFound, RaterNotFound
from db.ids import could_be_id
from db.images import PreparedImage, put_image, put_png, put_prepared
from db.models import MASK_SOURCES, MASK_STATUSES, Image, Mask, Prompt, Rater, Sample
from db.samples import get_sample


class BadMask(EmojichError):
    pass


class MaskNotFound(NotFound):
    pass


def add_mask(
    session: Session,
    mask: PILImage.Image | bytes | PreparedImage,
    *,
    source: str,
    status: str,
    dataset_item_id: int | None = None,
    sample_id: int | None = None,
    round: int | None = None,
    confidence_mean: float | None = None,
    confidence_object: float | None = None,
    rater_id: int | None = None,
    for_validation: bool = False,
) -> Mask:
    """Store a mask image (mode L, 255 = opaque; or PNG bytes already encoded so, or prepared with
    db/images.py `prepare_png` before the transaction) and its row in the caller's transaction."""
    _check_mask_fields(source, status, dataset_item_id, sample_id)
    if isinstance(mask, PreparedImage):
        put_prepared(session, mask)
        sha = mask.sha256
    else:
        sha = put_png(session, mask) if isinstance(mask, bytes) else put_image(session, mask.convert("L"))
    row = Mask(
        dataset_item_id=dataset_item_id,
        sample_id=sample_id,
        image_sha256=sha,
        source=source,
        status=status,
        round=round,
        confidence_mean=confidence_mean,
        confidence_object=confidence_object,
        rater_id=rater_id,
        for_validation=for_validation,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class NewMask:
    """A mask row to add in a batch; its image encoded beforehand (db/images.py `prepare_image`)."""

    image: PreparedImage
    source: str
    status: str
    dataset_item_id: int | None = None
    sample_id: int | None = None
    round: int | None = None
    confidence_mean: float | None = None
    confidence_object: float | None = None
    rater_id: int | None = None
    for_validation: bool = False


def _check_mask_fields(source: str, status: str, dataset_item_id: int | None, sample_id: int | None) -> None:
    if source not in MASK_SOURCES:
        raise ValueError(f"unknown mask source {source!r}; expected one of {', '.join(MASK_SOURCES)}")
    if status not in MASK_STATUSES:
        raise ValueError(f"unknown mask status {status!r}; expected one of {', '.join(MASK_STATUSES)}")
    if (dataset_item_id is None) == (sample_id is None):
        raise ValueError("a mask belongs to exactly one dataset item or one sample")


def add_masks(session: Session, masks: Sequence[NewMask]) -> int:
    """Many masks (a round's predictions, a dataset's ground truth) in one batch: one image
    INSERT, one flush. With the images encoded beforehand the transaction holds the write lock
    for milliseconds, not for the seconds PNG encoding takes."""
    for m in masks:
        _check_mask_fields(m.source, m.status, m.dataset_item_id, m.sample_id)
    put_prepared(session, [m.image for m in masks])
    session.add_all(
        Mask(dataset_item_id=m.dataset_item_id, sample_id=m.sample_id, image_sha256=m.image.sha256, source=m.source,
             status=m.status, round=m.round, confidence_mean=m.confidence_mean,
             confidence_object=m.confidence_object, rater_id=m.rater_id, for_validation=m.for_validation)
        for m in masks
    )
    session.flush()
    return len(masks)


def list_masks_for_sample(session: Session, sample_id: int) -> list[Mask]:
    return list(session.scalars(select(Mask).where(Mask.sample_id == sample_id).order_by(Mask.id)))


def count_masks(
    session: Session, *, source: str | None = None, status: str | None = None, round: int | None = None
) -> int:
    query = select(func.count(Mask.id))
    if source is not None:
        query = query.where(Mask.source == source)
    if status is not None:
        query = query.where(Mask.status == status)
    if round is not None:
        query = query.where(Mask.round == round)
    return session.scalar(query) or 0


def effective_mask_rows():
    """Subquery (mask_id, rank) over the mask rows that decide something, ranked per subject: rank 1 wins."""
    is_decision = or_(Mask.source == "manual", Mask.status == "accepted")
    rank = (
        func.row_number()
        .over(
            partition_by=(Mask.dataset_item_id, Mask.sample_id),
            order_by=(case((Mask.source == "manual", 0), else_=1), Mask.id.desc()),
        )
        .label("rank")
    )
    return select(Mask.id.label("mask_id"), rank).where(Mask.status != "needs_review", is_decision).subquery()


@dataclass(frozen=True)
class EffectiveMask:
    sample_id: int
    mask_id: int
    image_sha256: str
    source: str  # manual | unet | contour
    status: str  # accepted | rejected (a person rejected the sample)

    @property
    def usable(self) -> bool:
        return self.status == "accepted"


def effective_masks(session: Session, sample_ids) -> dict[int, EffectiveMask]:
    """The winning mask of each of these samples that has one (see the module's rule)."""
    ids = [i for i in dict.fromkeys(int(i) for i in sample_ids) if could_be_id(i)]  # a huge id matches nothing
    if not ids:
        return {}
    ranked = effective_mask_rows()
    rows = session.execute(
        select(Mask.sample_id, Mask.id, Mask.image_sha256, Mask.source, Mask.status)
        .join(ranked, (ranked.c.mask_id == Mask.id) & (ranked.c.rank == 1))
        .where(Mask.sample_id.in_(ids))
    ).all()
    return {int(r[0]): EffectiveMask(int(r[0]), int(r[1]), r[2], r[3], r[4]) for r in rows}


@dataclass(frozen=True)
class ReviewItem:
    """A sample waiting for a person, with the machine mask to start from."""

    sample_id: int
    image_sha256: str  # the generated image (RGB on white)
    mask_id: int
    mask_sha256: str  # the suggestion: a contour mask (queued) or a U-Net pseudo-label
    source: str
    status: str
    round: int | None
    confidence_mean: float | None
    confidence_object: float | None
    prompt: str
    checkpoint_id: int


def _has_person_decision(sample_id_column):
    person = aliased(Mask)
    return exists().where(person.sample_id == sample_id_column, person.source == "manual")


def _latest_machine_masks():
    latest = (
        select(Mask.sample_id, func.max(Mask.id).label("mask_id"))
        .where(Mask.sample_id.is_not(None), Mask.source.in_(("unet", "contour")), Mask.status != "rejected")
        .group_by(Mask.sample_id)
    )
    return latest.subquery()


def list_review_queue(session: Session, limit: int = 50, *, include_accepted: bool = True) -> list[ReviewItem]:
    """Samples no person has decided on, each with its latest machine mask: contour fallbacks
    (needs_review) first, then U-Net pseudo-labels (for spot checks); lowest confidence first
    within each group (boundary score, then mean)."""
    latest = _latest_machine_masks()
    query = (
        select(
            Sample.id,
            Sample.image_sha256,
            Mask.id,
            Mask.image_sha256,
            Mask.source,
            Mask.status,
            Mask.round,
            Mask.confidence_mean,
            Mask.confidence_object,
            Prompt.text,
            Sample.checkpoint_id,
        )
        .join(latest, latest.c.sample_id == Sample.id)
        .join(Mask, Mask.id == latest.c.mask_id)
        .join(Prompt, Prompt.id == Sample.prompt_id)
        .where(~_has_person_decision(Sample.id))
    )
    if not include_accepted:
        query = query.where(Mask.status == "needs_review")
    query = query.order_by(
        case((Mask.status == "needs_review", 0), else_=1),
        func.coalesce(Mask.confidence_object, -1.0),
        func.coalesce(Mask.confidence_mean, -1.0),
        Mask.id,
    ).limit(limit)
    return [ReviewItem(*row) for row in session.execute(query)]


def count_review_queue(session: Session, *, include_accepted: bool = False) -> int:
    latest = _latest_machine_masks()
    query = (
        select(func.count())
        .select_from(latest)
        .join(Mask, Mask.id == latest.c.mask_id)
        .where(~_has_person_decision(latest.c.sample_id))
    )
    if not include_accepted:
        query = query.where(Mask.status == "needs_review")
    return session.scalar(query) or 0


def _check_rater(session: Session, rater_id: int) -> None:
    if session.get(Rater, rater_id) is None:
        raise RaterNotFound(f"rater {rater_id} not found")


def _sample_size(session: Session, sample: Sample) -> tuple[int, int]:
    row = session.execute(select(Image.width, Image.height).where(Image.sha256 == sample.image_sha256)).one()
    return int(row[0]), int(row[1])


def binarize(mask: PILImage.Image) -> PILImage.Image:
    """Mode L, 255 where the mask is at least half opaque, else 0 (RGBA masks: their alpha)."""
    if mask.mode in ("RGBA", "LA", "PA"):
        mask = mask.getchannel("A")
    values = np.asarray(mask.convert("L"))
    return PILImage.fromarray(np.where(values >= 128, 255, 0).astype(np.uint8), "L")


def accept_manual_mask(
    session: Session, sample_id: int, pil_mask: PILImage.Image, rater_id: int, *, for_validation: bool = False
) -> Mask:
    """A person's mask for a sample (edited, or the suggestion accepted as is): it wins over every
    machine mask of the sample and is training data from the next round on (validation data when
    `for_validation`). The mask must have the sample image's size and must not be empty."""
    sample = get_sample(session, sample_id)
    _check_rater(session, rater_id)
    size = _sample_size(session, sample)
    if pil_mask.size != size:
        raise BadMask(f"mask is {pil_mask.size[0]}×{pil_mask.size[1]} but sample {sample_id} is {size[0]}×{size[1]}")
    mask = binarize(pil_mask)
    if mask.getbbox() is None:
        raise BadMask("the mask is empty; reject the sample instead")
    return add_mask(
        session, mask, source="manual", status="accepted", sample_id=sample_id, rater_id=rater_id,
        for_validation=for_validation,
    )


def reject_sample_mask(session: Session, sample_id: int, rater_id: int) -> Mask:
    """A person says the sample cannot be segmented usefully: it leaves the queue, is never used
    for training and is not predicted on again. Recorded as a manual row with status rejected that
    keeps the mask the person saw (or an empty one if there was none)."""
    sample = get_sample(session, sample_id)
    _check_rater(session, rater_id)
    seen = session.scalar(
        select(Mask.image_sha256)
        .where(Mask.sample_id == sample_id, Mask.source.in_(("unet", "contour")))
        .order_by(Mask.id.desc())
        .limit(1)
    )
    if seen is None:
        width, height = _sample_size(session, sample)
        seen = put_image(session, PILImage.new("L", (width, height), 0))
    row = Mask(sample_id=sample_id, image_sha256=seen, source="manual", status="rejected", rater_id=rater_id)
    session.add(row)
    session.flush()
    return row
