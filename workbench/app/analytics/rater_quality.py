"""Rater quality, for admins: each rater against the leave-one-out consensus, and test–retest.

For every rating of an image that others rated too, x = the rater's combined score (mean of the
three criteria) and y = the mean combined score of the *other* raters of that image (the
leave-one-out consensus). From the sums over a rater's ratings (computed in SQL, see
db/rater_quality.py): the **offset** mean(x − y) (a harsh rater is negative) and the **agreement**
corr(x, y). Test–retest: the silent repeats against the first rating of the same image, as the
mean absolute difference per score. A rater is **flagged** when one of these is out of line (the
thresholds below, with enough data behind them); the decision view shows the recommendation with
and without the flagged raters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SHARED = 10  # ratings with a consensus before offset and agreement count for a flag
MAX_OFFSET = 0.75  # |mean(x − y)| on the 1–5 scale
MIN_AGREEMENT = 0.3  # corr(x, y)
MIN_REPEATS = 3
MAX_RETEST_DIFF = 1.0  # mean |first − repeat| per score


@dataclass(frozen=True)
class ConsensusSums:
    """One rater's sums over their ratings of images that at least one other rater scored."""

    rater_id: int
    name: str
    ratings: int  # all their ratings in the run
    n: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float
    offsets: dict[str, float]  # per criterion: sum of (own − others' mean)


@dataclass(frozen=True)
class RetestSums:
    rater_id: int
    n: int
    sum_abs_diff: float  # over the three criteria of every repeat


@dataclass(frozen=True)
class RaterQuality:
    rater_id: int
    name: str
    ratings: int
    shared: int
    offset: float | None
    offsets: dict[str, float]
    agreement: float | None
    repeats: int
    retest_diff: float | None
    flagged: bool
    reasons: tuple[str, ...]


def _correlation(s: ConsensusSums) -> float | None:
    if s.n < 3:
        return None
    vx = s.sum_xx / s.n - (s.sum_x / s.n) ** 2
    vy = s.sum_yy / s.n - (s.sum_y / s.n) ** 2
    if vx <= 1e-12 or vy <= 1e-12:
        return None
    cov = s.sum_xy / s.n - (s.sum_x / s.n) * (s.sum_y / s.n)
    return max(-1.0, min(1.0, cov / math.sqrt(vx * vy)))


def rater_quality(sums: list[ConsensusSums], retests: list[RetestSums]) -> list[RaterQuality]:
    by_rater = {r.rater_id: r for r in retests}
    out = []
    for s in sums:
        offset = (s.sum_x - s.sum_y) / s.n if s.n else None
        agreement = _correlation(s)
        retest = by_rater.get(s.rater_id)
        repeats = retest.n if retest else 0
        retest_diff = retest.sum_abs_diff / (3 * retest.n) if retest and retest.n else None
        reasons = []
        if s.n >= MIN_SHARED and offset is not None and abs(offset) > MAX_OFFSET:
            reasons.append(f"scores {abs(offset):.2f} {'above' if offset > 0 else 'below'} the others on average")
        if s.n >= MIN_SHARED and agreement is not None and agreement < MIN_AGREEMENT:
            reasons.append(f"agrees little with the others (r = {agreement:.2f})")
        if repeats >= MIN_REPEATS and retest_diff is not None and retest_diff > MAX_RETEST_DIFF:
            reasons.append(f"scores the same image differently a second time (±{retest_diff:.2f})")
        out.append(RaterQuality(
            s.rater_id, s.name, s.ratings, s.n, offset,
            {c: v / s.n for c, v in s.offsets.items()} if s.n else {}, agreement, repeats, retest_diff,
            bool(reasons), tuple(reasons),
        ))
    return out


FLAG_RULE = (
    f"A rater is flagged when, over at least {MIN_SHARED} images others scored too, their mean offset from the "
    f"others exceeds ±{MAX_OFFSET} or their correlation with the others is below {MIN_AGREEMENT}, or when over at "
    f"least {MIN_REPEATS} silent repeats their second scores differ from their first by more than {MAX_RETEST_DIFF} "
    "on average."
)
