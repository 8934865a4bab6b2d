"""Bradley–Terry ranking of checkpoints from pairwise judgements (choix), with Laplace intervals."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import choix
import numpy as np

Z95 = 1.959964


@dataclass(frozen=True)
class Strength:
    item: int
    strength: float  # log-strength, centred on 0
    low: float
    high: float
    wins: float
    games: int


def ranking(
    items: Sequence[int], outcomes: Iterable[tuple[int, int, str, int]], alpha: float = 0.01
) -> list[Strength]:
    """Rank `items` from (item_a, item_b, winner a|b|tie, count) rows; strongest first.

    A tie counts as half a win each way. `alpha` is choix's L2 regulariser, which also keeps
    items that never win (or never lose) finite. Intervals: ±1.96 standard errors from the
    inverse Hessian of the regularised log-likelihood at the estimate, for the centred strengths.
    """
    outcomes = list(outcomes)
    index = {item: i for i, item in enumerate(items)}
    pairs: list[tuple[int, int]] = []
    weights: list[float] = []
    for a, b, winner, count in outcomes:
        i, j = index[a], index[b]
        if winner == "a":
            pairs.append((i, j)), weights.append(float(count))
        elif winner == "b":
            pairs.append((j, i)), weights.append(float(count))
        else:
            pairs.append((i, j)), weights.append(count / 2)
            pairs.append((j, i)), weights.append(count / 2)
    n = len(items)
    if n == 0:
        return []
    data = [pair for pair, w in zip(pairs, weights, strict=True) for _ in range(_copies(w))]
    params = choix.ilsr_pairwise(n, data, alpha=alpha) if data else np.zeros(n)
    params = params - params.mean()
    hessian = alpha * np.eye(n)
    wins = np.zeros(n)
    games = np.zeros(n, dtype=int)
    for (winner, loser), w in zip(pairs, weights, strict=True):
        p = 1.0 / (1.0 + np.exp(params[loser] - params[winner]))
        d = np.zeros(n)
        d[winner], d[loser] = 1.0, -1.0
        hessian += w * p * (1 - p) * np.outer(d, d)
        wins[winner] += w
    for a, b, _, count in outcomes:
        games[index[a]] += count
        games[index[b]] += count
    # Strengths are only defined up to a shift (they are centred): drop that direction, whose
    # variance comes from the regulariser alone, by projecting the covariance onto sum-zero vectors.
    centre = np.eye(n) - np.full((n, n), 1.0 / n)
    covariance = centre @ np.linalg.pinv(hessian) @ centre
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    result = [
        Strength(item, float(params[i]), float(params[i] - Z95 * se[i]), float(params[i] + Z95 * se[i]),
                 float(wins[i]), int(games[i]))
        for item, i in index.items()
    ]
    return sorted(result, key=lambda s: s.strength, reverse=True)


def _copies(weight: float) -> int:
    # choix takes a list of observations; half wins (ties) are doubled with everything else.
    return int(round(weight * 2))
