"""When to stop fine-tuning: the earliest checkpoint within one standard error of the best.

The combined score of a rating is the mean of its three criteria (generality, emoji style,
quality). Checkpoints are compared by their mean combined score; the one-standard-error rule
prefers the earliest (least fine-tuned, so most general) checkpoint that is statistically as
good as the best. Separately, a checkpoint is flagged where generality falls by more than one
standard error of the difference while emoji style still rises: the report's trade-off.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workbench.app.analytics.scores import Interval

RULE = (
    "Recommended = the earliest checkpoint whose mean combined score (the mean of generality, emoji "
    "style and quality, averaged per sample over its raters) is within one standard error (over "
    "samples) of the best checkpoint's mean (≥ best mean − best SE). A ⚠ flag marks a checkpoint "
    "where generality fell by more than one standard error of the difference since the previous "
    "checkpoint while emoji style still rose."
)


@dataclass(frozen=True)
class CheckpointPoint:
    checkpoint_id: int
    step: int
    combined: Interval
    criteria: Mapping[str, Interval]


@dataclass(frozen=True)
class TradeOffFlag:
    step: int
    checkpoint_id: int
    generality_from: float
    generality_to: float
    style_from: float
    style_to: float

    def describe(self) -> str:
        return (
            f"step {self.step}: generality fell {self.generality_from:.2f} → {self.generality_to:.2f} "
            f"while emoji style rose {self.style_from:.2f} → {self.style_to:.2f}"
        )


@dataclass(frozen=True)
class Recommendation:
    checkpoint_id: int
    step: int
    best_checkpoint_id: int
    best_step: int
    best_mean: float
    best_se: float
    threshold: float
    flags: tuple[TradeOffFlag, ...]

    def explain(self) -> str:
        same = self.step == self.best_step
        return (
            f"Best combined mean {self.best_mean:.2f} ± {self.best_se:.2f} (SE) at step {self.best_step}; "
            f"threshold {self.threshold:.2f}; "
            + (
                f"step {self.step} is the best itself and no earlier checkpoint reaches the threshold."
                if same
                else f"step {self.step} is the earliest checkpoint at or above it."
            )
        )


def trade_off_flags(points: Sequence[CheckpointPoint]) -> tuple[TradeOffFlag, ...]:
    flags = []
    ordered = sorted(points, key=lambda p: p.step)
    for before, after in zip(ordered, ordered[1:], strict=False):
        g0, g1 = before.criteria["generality"], after.criteria["generality"]
        s0, s1 = before.criteria["emoji_style"], after.criteria["emoji_style"]
        se_diff = math.sqrt(g0.se**2 + g1.se**2)
        if g1.mean - g0.mean < -se_diff and s1.mean > s0.mean:
            flags.append(TradeOffFlag(after.step, after.checkpoint_id, g0.mean, g1.mean, s0.mean, s1.mean))
    return tuple(flags)


def recommend(points: Sequence[CheckpointPoint]) -> Recommendation | None:
    """Apply the rule (see RULE); None when no checkpoint has ratings with a finite SE."""
    usable = sorted((p for p in points if math.isfinite(p.combined.se)), key=lambda p: p.step)
    if not usable:
        return None
    best = max(usable, key=lambda p: (p.combined.mean, -p.step))
    threshold = best.combined.mean - best.combined.se
    chosen = next(p for p in usable if p.combined.mean >= threshold)
    return Recommendation(
        checkpoint_id=chosen.checkpoint_id,
        step=chosen.step,
        best_checkpoint_id=best.checkpoint_id,
        best_step=best.step,
        best_mean=best.combined.mean,
        best_se=best.combined.se,
        threshold=threshold,
        flags=trade_off_flags(usable),
    )


def _measured(p: CheckpointPoint, min_samples: int) -> bool:
    """Enough rated samples for a finite standard error."""
    return p.combined.n >= min_samples and math.isfinite(p.combined.se)


def _undecided(points: Sequence[CheckpointPoint], recommendation: Recommendation, min_samples: int) -> frozenset[int]:
    undecided = {recommendation.best_checkpoint_id}
    for p in points:
        if not _measured(p, min_samples):
            undecided.add(p.checkpoint_id)
        elif p.step <= recommendation.step and p.combined.low < recommendation.threshold < p.combined.high:
            undecided.add(p.checkpoint_id)
    return frozenset(undecided)


def undecided_checkpoints(points: Sequence[CheckpointPoint], min_samples: int = 2) -> frozenset[int]:
    """The checkpoints where more ratings can still change the recommendation (the adaptive queue
    rates these first): the best one (its mean and SE set the threshold), every checkpoint up to
    the recommended one whose 95 % interval still straddles the threshold, and any checkpoint with
    fewer than `min_samples` rated samples. Empty when nothing is rated yet (the queue stays uniform)."""
    recommendation = recommend(points)
    return frozenset() if recommendation is None else _undecided(points, recommendation, min_samples)


FOCUS_SIZE = 2
FOCUS_REFRESH = 4  # the adaptive focus is recomputed after every this many new ratings of the run (all raters)


def focus_checkpoints(points: Sequence[CheckpointPoint], size: int = FOCUS_SIZE, min_samples: int = 2) -> frozenset[int]:
    """The adaptive queue's focus: of the undecided checkpoints, the `size` whose ratings can most
    easily still move the recommendation, i.e. whose mean is fewest standard errors from the
    threshold (|mean − threshold| / SE; the best checkpoint's is 1 by construction, as its SE sets
    the threshold; one short of `min_samples` comes first). Two, not one, so that a rater's next
    image can come from the focus without two in a row from one checkpoint. Measured with
    bench/bench_queue.py against all undecided checkpoints, fewest ratings first (README)."""
    recommendation = recommend(points)
    if recommendation is None:
        return frozenset()
    undecided = _undecided(points, recommendation, min_samples)
    if len(undecided) <= size:
        return undecided

    def distance(p: CheckpointPoint) -> float:
        if not _measured(p, min_samples) or p.combined.se <= 0:
            return -1.0
        if p.checkpoint_id == recommendation.best_checkpoint_id:
            return 1.0
        return abs(p.combined.mean - recommendation.threshold) / p.combined.se

    ranked = sorted((p for p in points if p.checkpoint_id in undecided), key=lambda p: (distance(p), p.step))
    return frozenset(p.checkpoint_id for p in ranked[:size])


def checkpoint_points(rows) -> list[CheckpointPoint]:
    """CheckpointPoints from per-checkpoint score moments (db.scores.CheckpointScores rows)."""
    from workbench.app.analytics.scores import interval_from_moments

    return [
        CheckpointPoint(
            row.checkpoint_id, row.step,
            interval_from_moments(row.combined.n, row.combined.mean, row.combined.mean_sq),
            {c: interval_from_moments(m.n, m.mean, m.mean_sq) for c, m in row.by_criterion.items()},
        )
        for row in rows
    ]
