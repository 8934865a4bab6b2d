"""Means and 95 % intervals from (n, mean, mean of squares), as the dashboard's SQL returns them."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Interval:
    n: int
    mean: float
    sd: float
    se: float
    low: float
    high: float


def interval_from_moments(n: int, mean: float, mean_sq: float, level: float = 0.95) -> Interval:
    """Student-t interval for the mean; the sample variance is rebuilt from the raw moments."""
    if n <= 0:
        raise ValueError("an interval needs at least one rating")
    if n == 1:
        return Interval(1, mean, 0.0, math.inf, -math.inf, math.inf)
    variance = max(0.0, (mean_sq - mean * mean) * n / (n - 1))
    sd = math.sqrt(variance)
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * se
    return Interval(n, mean, sd, se, mean - half, mean + half)
