"""When agreement and the recommendation may be shown: the hold-back rule.

Krippendorff's α needs images that several raters scored: it is held back until at least
`min_overlap_raters` raters have scored the whole overlap set. The recommendation needs that too,
and at least `min_rated_per_checkpoint` rated images at every checkpoint, so it never rests on a
handful of samples. Until then the decision view says what is missing instead of a number.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckpointCoverage:
    checkpoint_id: int
    step: int
    samples: int  # images the checkpoint has
    rated: int  # images with at least one rating
    ratings: int
    grid_raters: int  # raters who scored the whole grid
    flagged: int  # images with an artifact flag


@dataclass(frozen=True)
class Coverage:
    checkpoints: tuple[CheckpointCoverage, ...]
    overlap_size: int
    overlap_done: int  # raters who scored every overlap image
    raters_per_sample: dict[int, int]  # number of raters → how many images have that many


@dataclass(frozen=True)
class HoldBack:
    alpha_reason: str | None  # None: α may be shown
    recommendation_reason: str | None  # None: the recommendation may be shown

    @property
    def show_alpha(self) -> bool:
        return self.alpha_reason is None

    @property
    def show_recommendation(self) -> bool:
        return self.recommendation_reason is None


def hold_back(coverage: Coverage, min_overlap_raters: int, min_rated_per_checkpoint: int) -> HoldBack:
    alpha_reason = None
    if coverage.overlap_size == 0:
        alpha_reason = "the design has no overlap set (overlap share 0), so no image is scored by every rater"
    elif coverage.overlap_done < min_overlap_raters:
        alpha_reason = (f"agreement waits until at least {min_overlap_raters} raters have scored the whole overlap set "
                        f"({coverage.overlap_size} images); {coverage.overlap_done} so far")
    short = [c for c in coverage.checkpoints if c.rated < min(min_rated_per_checkpoint, c.samples)]
    reasons = [alpha_reason] if alpha_reason else []
    if not coverage.checkpoints:
        reasons.append("no checkpoint has images yet")
    if short:
        reasons.append(_short_text(short, min_rated_per_checkpoint))
    return HoldBack(alpha_reason, "; ".join(reasons) or None)


def _short_text(short: Sequence[CheckpointCoverage], minimum: int) -> str:
    listed = ", ".join(f"step {c.step} ({c.rated}/{c.samples})" for c in short[:6])
    more = f" and {len(short) - 6} more" if len(short) > 6 else ""
    return f"every checkpoint needs at least {minimum} rated images; short: {listed}{more}"
