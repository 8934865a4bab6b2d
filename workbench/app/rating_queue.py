"""The rating queue end to end: a run's design and one rater's history (db/) through the queue
policy (analytics/queue_policy.py) to the next image. The Rate page calls `next_item`; tests run
it on SQLite and PostgreSQL.

All ordering happens here in Python, over the run's few thousand sample ids: no order expression
in SQL (the old `(id * a + b) % (2^31 - 1)` overflowed PostgreSQL's integers)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.orm import Session

from db.rating_design import Design, get_design
from db.rating_stats import run_ratings_total
from db.ratings import RateItem, last_rated_sample_id, queue_snapshot, rate_item
from db.scores import checkpoint_scores
from workbench.app.analytics.queue_policy import (
    Item,
    RaterState,
    constrained_order,
    left_for,
    next_sample,
    overlap_set,
    seed_for,
)
from workbench.app.analytics.stopping_rule import FOCUS_REFRESH, checkpoint_points, focus_checkpoints


@dataclass(frozen=True)
class Next:
    item: RateItem
    kind: str  # overlap | design | focus | extra | repeat (the page shows them all alike)


def run_overlap(rows: Sequence[tuple[int, int, int]], design: Design) -> frozenset[int]:
    """The run's overlap set for its (sample, checkpoint, prompt) rows (db/ratings.py `run_items`, or a
    queue snapshot's items): the one entry, computed once per process for each set of samples."""
    return _overlap(tuple(rows), design.overlap_share, seed_for("overlap", design.run_id, design.seed))


@lru_cache(maxsize=256)
def _overlap(rows: tuple[tuple[int, int, int], ...], share: float, seed: int) -> frozenset[int]:
    return overlap_set([Item(*row) for row in rows], share, seed)


@lru_cache(maxsize=256)
def rater_order(rows: tuple[tuple[int, int, int], ...], seed: int) -> tuple[Item, ...]:
    """The rater's seeded constrained order of these (sample, checkpoint, prompt) rows, computed once
    per process for each set of samples: every Next and every progress line needs it, and it costs
    tens of milliseconds of CPU for a run of 12–24 checkpoints (the key is every row's three ids, so a
    new checkpoint or a deleted sample gives a new order, as before)."""
    return tuple(constrained_order([Item(*row) for row in rows], seed))


def adaptive_focus(session: Session, run_id: int) -> frozenset[int]:
    """The checkpoints the adaptive queue rates first (see stopping_rule.focus_checkpoints)."""
    return focus_checkpoints(checkpoint_points(checkpoint_scores(session, run_id)))


def focus_version(session: Session, run_id: int) -> int:
    """Changes after every FOCUS_REFRESH new ratings of the run: the key under which a caller may
    cache `adaptive_focus` (bench/bench_queue.py refreshes it as often: more often is more adaptive,
    every 16 ratings needed 704 ratings to be right, every 4 needed 640, README)."""
    return run_ratings_total(session, run_id) // FOCUS_REFRESH


def rater_state(session: Session, run_id: int, rater_id: int, previous_sample_id: int | None = None,
                focus: frozenset[int] | None = None) -> RaterState:
    """Everything the policy needs. `previous_sample_id`: the image shown just before (default: the
    one this rater rated last). `focus`: the adaptive focus when the caller has it cached;
    computed here for an adaptive design otherwise."""
    design = get_design(session, run_id)
    snapshot = queue_snapshot(session, run_id, rater_id)
    rows = tuple(snapshot.items)
    order = rater_order(rows, seed_for("order", run_id, rater_id, design.seed))
    if previous_sample_id is None:
        previous_sample_id = last_rated_sample_id(session, rater_id, run_id)
    if design.queue == "adaptive":
        focus = adaptive_focus(session, run_id) if focus is None else focus
    else:
        focus = None
    return RaterState(
        order=order,
        overlap=run_overlap(rows, design),
        rated=snapshot.rated,
        skipped=snapshot.skipped,
        repeated=snapshot.repeated,
        raters=snapshot.raters,
        previous=next((it for it in order if it.sample_id == previous_sample_id), None),
        target=design.target_raters,
        repeats=design.repeats,
        focus=focus or None,
    )


def next_item(session: Session, rater_id: int, run_id: int, previous_sample_id: int | None = None,
              focus: frozenset[int] | None = None) -> Next | None:
    """The image this rater sees next in the run, or None when nothing is left for them."""
    pick = next_sample(rater_state(session, run_id, rater_id, previous_sample_id, focus))
    if pick is None:
        return None
    item = rate_item(session, pick.sample_id)
    return None if item is None else Next(item, pick.kind)


def progress(session: Session, rater_id: int, run_id: int) -> tuple[int, int]:
    """(rated, still waiting for this rater) in the run: the rater's own progress."""
    state = rater_state(session, run_id, rater_id, focus=frozenset())
    return len(set(state.rated)), left_for(state)
