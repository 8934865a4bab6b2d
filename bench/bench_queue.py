"""Uniform against adaptive queue: ratings needed until the recommendation is right in 95 % of runs.

    .venv/bin/python bench/bench_queue.py [--runs 200] [--raters 3] [--workers 2] [--plot docs/queue_simulation.png]

Simulated raters score a run of 12 checkpoints × 64 prompts through the real queue policy
(workbench/app/analytics/queue_policy.py: overlap first, the rest to 2 raters each, seeded
constrained order, 5 silent repeats each) and the real stopping rule, hold-back rule and adaptive
focus (stopping_rule.focus_checkpoints, refreshed every FOCUS_REFRESH = 4 ratings, as the Rate page does). True per-checkpoint means follow the report's curve:
emoji style rising until ~12k iterations, quality (artifacts fading) until ~24k, generality falling
after ~48k. A
rating is the true mean + the image's own effect (shared by its raters and criteria) + the
rater's bias + noise, rounded to 1–5. "Right": the recommended checkpoint's true combined mean is
within 0.15 of the best checkpoint's (an indifference zone: here the plateau 24k–48k). Held back
counts as not right. Raters take turns, one image each.

Prints, per queue, the smallest number of ratings from which on at least 95 % of the runs are
right, and the saving. Deterministic for given arguments (seeded), whatever the machine.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.app.analytics.hold_back import CheckpointCoverage, Coverage, hold_back  # noqa: E402
from workbench.app.analytics.queue_policy import (  # noqa: E402
    Item,
    RaterState,
    constrained_order,
    next_sample,
    overlap_set,
    seed_for,
)
from workbench.app.analytics.scores import interval_from_moments  # noqa: E402
from workbench.app.analytics.stopping_rule import (  # noqa: E402
    FOCUS_REFRESH,
    CheckpointPoint,
    focus_checkpoints,
    recommend,
)

STEPS = [i * 6000 for i in range(12)]
PROMPTS = 64
CRITERIA = ("generality", "emoji_style", "quality")
SAMPLE_SD, BIAS_SD, NOISE_SD = 0.6, 0.3, 0.9
INDIFFERENCE = 0.15
TARGET, OVERLAP, REPEATS, MIN_OVERLAP_RATERS, MIN_RATED = 2, 0.2, 5, 2, 12
EVERY = 16  # evaluate the recommendation every this many ratings


def true_means(step: int) -> np.ndarray:
    """Per criterion, like the report: emoji style climbing fast and mostly there by ~12k, then
    slowly on; artifacts fading over the first ~20k; generality lost after ~56k."""
    style = 1.5 + 2.4 * (1 - math.exp(-step / 7000)) + 0.3 * min(1.0, step / 54_000)
    quality = 1.9 + 2.1 * (1 - math.exp(-step / 9000))
    generality = 4.1 - 2.0 * max(0.0, (step - 54_000) / 12_000) ** 1.2
    return np.array([generality, style, quality])


def points_from(sums: np.ndarray, counts: np.ndarray, checkpoint_of: np.ndarray, ids: list[int]) -> list[CheckpointPoint]:
    """Per-sample means over raters, then moments per checkpoint: what db/scores.py computes in SQL."""
    points = []
    rated = counts > 0
    means = np.zeros_like(sums)
    means[rated] = sums[rated] / counts[rated, None]
    for c, step in enumerate(STEPS):
        mask = rated & (checkpoint_of == c)
        n = int(mask.sum())
        if n == 0:
            continue
        m = means[mask]
        combined = m.mean(axis=1)
        ivs = {crit: interval_from_moments(n, float(m[:, i].mean()), float((m[:, i] ** 2).mean())) for i, crit in enumerate(CRITERIA)}
        points.append(CheckpointPoint(ids[c], step, interval_from_moments(n, float(combined.mean()), float((combined**2).mean())), ivs))
    return points


def simulate(args: tuple[int, str, int, int, int]) -> list[int]:
    """One run: the recommended step after every EVERY ratings, up to `budget` (-1: held back); the
    adaptive focus recomputed whenever `refresh` more ratings are stored (silent repeats are kept apart)."""
    run, queue, raters, budget, refresh = args
    rng = np.random.default_rng(seed_for("bench-queue", run))
    ids = list(range(101, 101 + len(STEPS)))
    items = [Item(1 + c * PROMPTS + p, ids[c], 500 + p) for c in range(len(STEPS)) for p in range(PROMPTS)]
    index = {it.sample_id: i for i, it in enumerate(items)}
    checkpoint_of = np.array([c for c in range(len(STEPS)) for _ in range(PROMPTS)])
    truth = np.array([true_means(s) for s in STEPS])
    effect = rng.normal(0, SAMPLE_SD, len(items))
    bias = rng.normal(0, BIAS_SD, raters)
    overlap = overlap_set(items, OVERLAP, seed_for("overlap", run))
    orders = [constrained_order(items, seed_for("order", run, r)) for r in range(raters)]
    rated: list[list[int]] = [[] for _ in range(raters)]
    repeated: list[set[int]] = [set() for _ in range(raters)]
    previous: list[Item | None] = [None] * raters
    count_by_sample: dict[int, int] = {}
    sums = np.zeros((len(items), 3))
    counts = np.zeros(len(items), dtype=int)
    focus: frozenset[int] | None = None
    total, version = 0, -1  # ratings stored so far (repeats apart); the focus's version
    outcome = []
    for n in range(1, budget + 1):
        r = (n - 1) % raters
        state = RaterState(orders[r], overlap, rated[r], frozenset(), frozenset(repeated[r]), count_by_sample,
                           previous[r], TARGET, REPEATS, focus if queue == "adaptive" else None)
        pick = next_sample(state)
        if pick is not None:
            i = index[pick.sample_id]
            c = checkpoint_of[i]
            scores = np.clip(np.rint(truth[c] + effect[i] + bias[r] + rng.normal(0, NOISE_SD, 3)), 1, 5)
            if pick.kind == "repeat":
                repeated[r].add(pick.sample_id)
            else:
                rated[r].append(pick.sample_id)
                count_by_sample[pick.sample_id] = count_by_sample.get(pick.sample_id, 0) + 1
                sums[i] += scores
                counts[i] += 1
                total += 1
            previous[r] = items[i]
        if queue == "adaptive" and total // refresh != version:  # the Rate page's rating_queue.focus_version
            version = total // refresh
            focus = focus_checkpoints(points_from(sums, counts, checkpoint_of, ids))
        if n % EVERY == 0:
            points = points_from(sums, counts, checkpoint_of, ids)
            done = sum(1 for r_ in range(raters) if overlap <= set(rated[r_]))
            coverage = Coverage(
                tuple(CheckpointCoverage(ids[c], s, PROMPTS, int(((checkpoint_of == c) & (counts > 0)).sum()), 0, 0, 0)
                      for c, s in enumerate(STEPS)), len(overlap), done, {})
            shown = hold_back(coverage, MIN_OVERLAP_RATERS, MIN_RATED).show_recommendation
            recommendation = recommend(points) if shown else None
            outcome.append(-1 if recommendation is None else recommendation.step)
    return outcome


def acceptable_steps() -> set[int]:
    combined = np.array([true_means(s) for s in STEPS]).mean(axis=1)
    return {s for s, m in zip(STEPS, combined, strict=True) if m >= combined.max() - INDIFFERENCE}


def needed(right: np.ndarray, level: float = 0.95) -> int | None:
    """Ratings from which on at least `level` of the runs stay right (None: not within the budget)."""
    share = right.mean(axis=0)
    ok = share >= level
    for k in range(len(ok)):
        if ok[k:].all():
            return (k + 1) * EVERY
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--raters", type=int, default=3)
    parser.add_argument("--budget", type=int, default=2400, help="ratings per run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--refresh", type=int, default=FOCUS_REFRESH,
                        help="refresh the adaptive focus every this many ratings (all raters)")
    parser.add_argument("--plot", type=Path, default=None, help="write the figure here (PNG)")
    args = parser.parse_args()
    truth = np.array([true_means(s) for s in STEPS]).mean(axis=1)
    print("true combined means:", " ".join(f"{s // 1000}k {m:.2f}" for s, m in zip(STEPS, truth, strict=True)))
    print(f"right = within {INDIFFERENCE} of the best ({truth.max():.2f}): "
          + ", ".join(f"{s // 1000}k" for s, m in zip(STEPS, truth, strict=True) if m >= truth.max() - INDIFFERENCE))
    results = {}
    for queue in ("uniform", "adaptive"):
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            runs = list(pool.map(simulate, [(run, queue, args.raters, args.budget, args.refresh) for run in range(args.runs)],
                                 chunksize=4))
        right = np.isin(np.array(runs), list(acceptable_steps()))
        results[queue] = right
        n = needed(right)
        print(f"{queue:>8}: right in 95 % of {args.runs} runs from {n if n else f'> {args.budget}'} ratings on "
              f"({right.mean(axis=0)[-1]:.1%} right at {args.budget}); {time.perf_counter() - started:.0f} s")
    uniform, adaptive = needed(results["uniform"]), needed(results["adaptive"])
    if uniform and adaptive:
        print(f"adaptive needs {1 - adaptive / uniform:.0%} fewer ratings than uniform ({adaptive} vs {uniform})")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x = np.arange(1, args.budget // EVERY + 1) * EVERY
        fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
        for queue, colour in (("uniform", "#1f77b4"), ("adaptive", "#d62728")):
            ax.plot(x, results[queue].mean(axis=0), label=queue, color=colour)
            n = needed(results[queue])
            if n:
                ax.axvline(n, color=colour, linestyle=":", linewidth=1)
        ax.axhline(0.95, color="#888", linewidth=0.8, linestyle="--")
        overlap_end = math.ceil(OVERLAP * PROMPTS) * len(STEPS) * args.raters
        ax.axvspan(0, overlap_end, color="#eee", zorder=0, label="overlap (all raters)")
        ax.set_xlabel("ratings so far (all raters)")
        ax.set_ylabel(f"runs right (of {args.runs})")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower right", frameon=False)
        ax.set_title(f"Recommendation right, {args.raters} simulated raters, 12 checkpoints × 64 prompts", fontsize=10)
        fig.tight_layout()
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot)
        print(f"figure: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
