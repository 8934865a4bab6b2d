"""Inter-rater agreement: Krippendorff's alpha (ordinal) from per-sample score counts."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import krippendorff
import numpy as np

WARN_BELOW = 0.4
SCALE = (1, 2, 3, 4, 5)


def value_count_matrix(rows: Iterable[tuple[int, int, int]]) -> np.ndarray:
    """(sample_id, score, count) rows → a units × 5 matrix of how many raters gave each score."""
    units: dict[int, np.ndarray] = {}
    for sample_id, score, count in rows:
        units.setdefault(sample_id, np.zeros(len(SCALE), dtype=float))[SCALE.index(score)] += count
    if not units:
        return np.zeros((0, len(SCALE)))
    return np.stack(list(units.values()))


def ordinal_alpha(rows: Iterable[tuple[int, int, int]]) -> float | None:
    """Krippendorff's alpha for ordinal 1–5 scores from (sample, score, count) rows; None when no
    sample has two ratings or every rating is the same value (agreement is then undefined)."""
    return ordinal_alpha_from_counts(value_count_matrix(rows))


def ordinal_alpha_from_counts(matrix: np.ndarray | Sequence[Sequence[int]]) -> float | None:
    """The same from a units × 5 matrix: row u holds how many raters gave sample u each score."""
    matrix = np.asarray(matrix, dtype=float).reshape(-1, len(SCALE))
    pairable = matrix[matrix.sum(axis=1) >= 2]
    if len(pairable) == 0 or np.count_nonzero(pairable.sum(axis=0)) < 2:
        return None
    return float(
        krippendorff.alpha(
            value_counts=pairable, value_domain=list(SCALE), level_of_measurement="ordinal"
        )
    )


def ordinal_alpha_from_coincidences(matrix: np.ndarray | Sequence[Sequence[float]]) -> float | None:
    """The same from Krippendorff's 5×5 coincidence matrix (db/scores.py `coincidences`, summed in
    SQL), for runs with thousands of samples: alpha = 1 − (n − 1)·Σ o·δ² / Σ n_c·n_k·δ², with the
    ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)². Equal to `ordinal_alpha_from_counts` (tested)."""
    o = np.asarray(matrix, dtype=float).reshape(len(SCALE), len(SCALE))
    n_v = o.sum(axis=1)
    n = n_v.sum()
    if n <= 1 or np.count_nonzero(n_v > 1e-12) < 2:
        return None
    cumulative = np.concatenate([[0.0], np.cumsum(n_v)])
    lo, hi = np.minimum.outer(np.arange(len(SCALE)), np.arange(len(SCALE))), np.maximum.outer(np.arange(len(SCALE)), np.arange(len(SCALE)))
    delta2 = (cumulative[hi + 1] - cumulative[lo] - (n_v[:, None] + n_v[None, :]) / 2) ** 2
    expected = (np.outer(n_v, n_v) * delta2).sum()
    if expected == 0:
        return None
    return float(1 - (n - 1) * (o * delta2).sum() / expected)


def agreement_warning(alpha: float | None) -> str | None:
    if alpha is None:
        return "not enough overlapping ratings to measure agreement (each sample needs two raters)"
    if alpha < WARN_BELOW:
        return f"low agreement (α = {alpha:.2f} < {WARN_BELOW}): raters read this criterion differently"
    return None
