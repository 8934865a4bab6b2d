"""Generated samples → RGBA emoji: a person's accepted mask when there is one, else the latest
U-Net with its confidence gate and contour fallback (the contour method alone before round 1)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from db.images import get_image
from db.masks import latest_person_decision
from db.samples import get_sample
from training.segmentation.data import to_rgb_on_white
from training.segmentation.inference import segment
from training.segmentation.model import LoadedModel
from training.segmentation.predict import rgba_with_mask


@dataclass(frozen=True)
class SegmentedSample:
    sample_id: int
    rgba: Image.Image
    method: str  # manual | unet | contour


def segment_samples(
    session: Session, sample_ids: Sequence[int], model: LoadedModel | None, device: str = "cpu"
) -> tuple[list[SegmentedSample], list[str]]:
    """The samples' RGBA images, in order; plus one line per sample left out (rejected in review)."""
    manual: dict[int, np.ndarray] = {}
    rgbs: dict[int, np.ndarray] = {}
    skipped: list[str] = []
    for sample_id in dict.fromkeys(sample_ids):
        sample = get_sample(session, sample_id)
        decision = latest_person_decision(session, sample_id)
        if decision is not None and decision.status == "rejected":
            skipped.append(f"sample {sample_id} was rejected in mask review; skipped")
            continue
        rgbs[sample_id] = to_rgb_on_white(get_image(session, sample.image_sha256))
        if decision is not None:
            manual[sample_id] = np.asarray(get_image(session, decision.image_sha256).convert("L")) >= 128
    to_segment = [i for i in rgbs if i not in manual]
    machine = dict(zip(to_segment, segment([rgbs[i] for i in to_segment], model, device=device), strict=True))
    out = []
    for sample_id, rgb in rgbs.items():
        if sample_id in manual:
            out.append(SegmentedSample(sample_id, rgba_with_mask(rgb, manual[sample_id]), "manual"))
        else:
            result = machine[sample_id]
            out.append(SegmentedSample(sample_id, rgba_with_mask(rgb, result.mask), result.method))
    return out, skipped
