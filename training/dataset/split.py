"""Deterministic train/validation split by caption: all images sharing a caption (skin-tone
variants, homonyms; compared by `caption_key`, so "ё" and "е" spellings too) fall on the same side."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from training.dataset.captions import caption_key

MAX_VAL_SHARE = 0.2


def _caption_order(caption: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}\x00{caption}".encode()).hexdigest()


def effective_val_size(n_items: int, val_size: int) -> int:
    """The asked size, capped at a fifth of the items so a small build still has a train split."""
    return max(0, min(val_size, int(n_items * MAX_VAL_SHARE)))


def assign_splits(captions: Sequence[str], val_size: int, seed: int = 0) -> list[str]:
    """ "train"/"val" per item. Captions are visited in a seeded hash order and taken whole into
    validation while they fit, until `val_size` images (capped, see `effective_val_size`)."""
    target = effective_val_size(len(captions), val_size)
    keys = [caption_key(c) for c in captions]
    counts = Counter(keys)
    val: set[str] = set()
    taken = 0
    for caption in sorted(counts, key=lambda c: _caption_order(c, seed)):
        if taken >= target:
            break
        if taken + counts[caption] <= target:
            val.add(caption)
            taken += counts[caption]
    return ["val" if key in val else "train" for key in keys]
