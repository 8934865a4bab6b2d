"""Do the automatic scores track what raters see? Spearman correlations with bootstrap intervals.

Automatic scores (lower = better by construction): `caption_loss` (the captioner's cross-entropy of the
prompt given the image) and `perplexity` (the sampler's, of its own image tokens). Human criteria
(higher = better): generality, emoji style, quality, each sample's mean over its raters.

- per sample: ρ between a sample's automatic score and its mean rating, over the run's rated samples
  (samples resampled as units; samples of one prompt or checkpoint are not independent, so the interval
  is, if anything, too narrow);
- per checkpoint: ρ between the checkpoint means, over the rated checkpoints (few, so wide intervals).

The interval is the percentile bootstrap of `scipy.stats.bootstrap` (paired resamples), read with
`nanpercentile` so that the rare resample where one side is constant (ρ undefined) is left out rather
than turning the interval into NaN. A useful automatic score correlates *negatively* with the ratings.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import stats

from workbench.app.analytics.scores import Interval, interval_from_moments

AUTOMATIC = ("caption_loss", "perplexity")
CRITERIA = ("generality", "emoji_style", "quality")
NAMES = {"caption_loss": "caption loss", "perplexity": "perplexity", "generality": "generality",
         "emoji_style": "emoji style", "quality": "quality"}
LEVELS = ("sample", "checkpoint")
MIN_POINTS = 5  # fewer pairs than this: no correlation reported
RESAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Correlation:
    score: str  # one of AUTOMATIC
    criterion: str  # one of CRITERIA
    level: str  # "sample" or "checkpoint"
    n: int
    rho: float
    low: float | None  # None: the bootstrap could not say
    high: float | None

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    @property
    def surely(self) -> float:
        """How strong |ρ| is at least, at 95 %: the interval's end nearest zero (0 when it spans zero)."""
        return min(abs(self.low), abs(self.high)) if self.excludes_zero else 0.0


def _rank_pearson(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's ρ along `axis` (Pearson on average ranks, as `scipy.stats.spearmanr`), vectorised."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=axis) / np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))


def spearman_interval(x: Sequence[float], y: Sequence[float], level: float = LEVEL, n_resamples: int = RESAMPLES,
                      seed: int = 0) -> tuple[float, float | None, float | None]:
    """(ρ, low, high): Spearman's ρ and its percentile-bootstrap interval over paired resamples."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError("x and y must pair up")
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("Spearman's ρ needs at least 3 pairs and some spread on both sides")
    rho = float(stats.spearmanr(x, y).statistic)
    result = stats.bootstrap((x, y), _rank_pearson, paired=True, vectorized=True, n_resamples=n_resamples,
                             confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    distribution = np.asarray(result.bootstrap_distribution, float)
    if np.isnan(distribution).mean() > 0.05:  # too many undefined resamples to trust an interval
        return rho, None, None
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(distribution, [tail, 100 - tail])
    return rho, float(low), float(high)


class SampleScores(Protocol):
    """What one sample contributes (db.automatic_scores.SampleScoreRow has these): its checkpoint, its
    automatic scores and its ratings averaged over raters; None where missing."""

    checkpoint_id: int
    step: int
    caption_loss: float | None
    perplexity: float | None
    generality: float | None
    emoji_style: float | None
    quality: float | None


@dataclass(frozen=True)
class CheckpointAutomatic:
    checkpoint_id: int
    step: int
    intervals: dict[str, Interval | None]  # per automatic score: mean and 95 % interval over samples


def checkpoint_intervals(samples: Sequence[SampleScores]) -> list[CheckpointAutomatic]:
    """Per checkpoint (step order), each automatic score's mean and Student-t 95 % interval over its samples."""
    by_checkpoint: dict[int, list[SampleScores]] = {}
    for s in samples:
        by_checkpoint.setdefault(s.checkpoint_id, []).append(s)
    out = []
    for checkpoint_id, rows in sorted(by_checkpoint.items(), key=lambda kv: kv[1][0].step):
        intervals = {}
        for score in AUTOMATIC:
            values = np.array([getattr(r, score) for r in rows if getattr(r, score) is not None], float)
            intervals[score] = (interval_from_moments(len(values), float(values.mean()), float((values ** 2).mean()))
                                if len(values) else None)
        out.append(CheckpointAutomatic(checkpoint_id, rows[0].step, intervals))
    return out


def _pairs(samples: Sequence[SampleScores], score: str, criterion: str, level: str) -> tuple[list[float], list[float]]:
    rated = [s for s in samples if getattr(s, score) is not None and getattr(s, criterion) is not None]
    if level == "sample":
        return [getattr(s, score) for s in rated], [getattr(s, criterion) for s in rated]
    by_checkpoint: dict[int, list[SampleScores]] = {}
    for s in rated:
        by_checkpoint.setdefault(s.checkpoint_id, []).append(s)
    xs = [float(np.mean([getattr(s, score) for s in rows])) for rows in by_checkpoint.values()]
    ys = [float(np.mean([getattr(s, criterion) for s in rows])) for rows in by_checkpoint.values()]
    return xs, ys


def correlations(samples: Sequence[SampleScores], n_resamples: int = RESAMPLES, seed: int = 0) -> list[Correlation]:
    """Every (automatic score, criterion, level) with enough pairs: per sample over the rated samples that
    have the score; per checkpoint over those samples' checkpoint means."""
    out = []
    for level in LEVELS:
        for score in AUTOMATIC:
            for criterion in CRITERIA:
                x, y = _pairs(samples, score, criterion, level)
                if len(x) < MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
                    continue
                rho, low, high = spearman_interval(x, y, n_resamples=n_resamples, seed=seed)
                out.append(Correlation(score, criterion, level, len(x), rho, low, high))
    return out


def strength(rho: float) -> str:
    a = abs(rho)
    return "negligible" if a < 0.1 else "weak" if a < 0.3 else "moderate" if a < 0.5 else "strong"


def _fmt(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def summary_sentence(found: Sequence[Correlation]) -> str:
    """One sentence: which automatic score tracks which criterion on this run and how strongly, or that none
    does. "Tracks" means the 95 % interval excludes zero; the one named is the surest (the largest |ρ| that
    its interval still guarantees), so a wide per-checkpoint interval over a few points does not win on ρ alone."""
    if not found:
        return (f"Not enough data to say whether an automatic score tracks the ratings: that needs at least "
                f"{MIN_POINTS} rated samples with automatic scores ({MIN_POINTS} rated checkpoints for the view per "
                f"checkpoint).")
    tracking = [c for c in found if c.excludes_zero]
    if not tracking:
        levels = {c.level: c.n for c in found}
        sizes = ", ".join(f"{n} {'samples' if level == 'sample' else 'checkpoints'}" for level, n in levels.items())
        return (f"No automatic score tracks any criterion on this run: every 95 % interval of Spearman's ρ "
                f"includes zero ({sizes}).")
    best = max(tracking, key=lambda c: (c.surely, abs(c.rho)))
    unit = "samples" if best.level == "sample" else "checkpoints"
    way = ("lower score where raters score higher, the useful direction" if best.rho < 0 else
           "but the wrong way round: higher score where raters score higher")
    return (f"On this run, {NAMES[best.score]} tracks {NAMES[best.criterion]} best, per {best.level}: "
            f"ρ = {_fmt(best.rho)} (95 % interval {_fmt(best.low)} to {_fmt(best.high)}, {best.n} {unit}), "
            f"{strength(best.rho)}, {way}.")
