"""Generated samples → RGBA emoji: the sample's effective mask (db.masks: a person's mask, else an accepted
machine mask) when there is one, else the latest U-Net with its confidence gate and contour fallback (the
contour method alone before round 1). The Stickers page previews the same effective masks."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from db.images import get_image
from db.masks import effective_masks
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
    stored: dict[int, tuple[np.ndarray, str]] = {}
    rgbs: dict[int, np.ndarray] = {}
    skipped: list[str] = []
    ids = list(dict.fromkeys(sample_ids))
    winners = effective_masks(session, ids)
    for sample_id in ids:
        sample = get_sample(session, sample_id)
        decision = winners.get(sample_id)
        if decision is not None and not decision.usable:
            skipped.append(f"sample {sample_id} was rejected in mask review; skipped")
            continue
        rgbs[sample_id] = to_rgb_on_white(get_image(session, sample.image_sha256))
        if decision is not None:
            mask = np.asarray(get_image(session, decision.image_sha256).convert("L")) >= 128
            stored[sample_id] = (mask, decision.source)
    to_segment = [i for i in rgbs if i not in stored]
    machine = dict(zip(to_segment, segment([rgbs[i] for i in to_segment], model, device=device), strict=True))
    out = []
    for sample_id, rgb in rgbs.items():
        if sample_id in stored:
            mask, source = stored[sample_id]
            out.append(SegmentedSample(sample_id, rgba_with_mask(rgb, mask), source))
        else:
            result = machine[sample_id]
            out.append(SegmentedSample(sample_id, rgba_with_mask(rgb, result.mask), result.method))
    return out, skipped
