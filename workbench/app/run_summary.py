"""What the decision view and the Raters page are computed from: coverage against the design,
rater quality, and the recommendation with and without flagged raters."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session

from db.coverage import checkpoint_counts, progress_through, raters_per_sample
from db.rater_quality import consensus_sums, retest_sums
from db.rating_design import get_design
from db.ratings import run_items
from db.scores import checkpoint_scores
from workbench.app.analytics.hold_back import CheckpointCoverage, Coverage, HoldBack, hold_back
from workbench.app.analytics.rater_quality import ConsensusSums, RaterQuality, RetestSums, rater_quality
from workbench.app.analytics.stopping_rule import Recommendation, checkpoint_points, recommend
from workbench.app.rating_queue import run_overlap


def coverage(session: Session, run_id: int) -> Coverage:
    design = get_design(session, run_id)
    overlap = run_overlap(run_items(session, run_id), design)
    done = sum(1 for n in progress_through(session, overlap).values() if n >= len(overlap)) if overlap else 0
    counts = tuple(CheckpointCoverage(**asdict(c)) for c in checkpoint_counts(session, run_id))
    return Coverage(counts, len(overlap), done, raters_per_sample(session, run_id))


def held_back(session: Session, run_id: int) -> HoldBack:
    design = get_design(session, run_id)
    return hold_back(coverage(session, run_id), design.min_overlap_raters, design.min_rated_per_checkpoint)


def quality(session: Session, run_id: int) -> list[RaterQuality]:
    """Rater quality against the consensus, the worst outlier taken out of the consensus one at a
    time (so one rater who gives everything a 1 does not make the others look harsh or lenient)."""
    retests = [RetestSums(**asdict(row)) for row in retest_sums(session, run_id)]
    outside: list[int] = []
    while True:
        sums = [ConsensusSums(**asdict(row)) for row in consensus_sums(session, run_id, tuple(outside))]
        result = rater_quality(sums, retests)
        candidates = [r for r in result if r.flagged and r.rater_id not in outside]
        if not candidates or len(result) - len(outside) <= 2:
            return result
        worst = max(candidates, key=lambda r: (len(r.reasons), abs(r.offset or 0.0)))
        outside.append(worst.rater_id)


@dataclass(frozen=True)
class WithWithout:
    flagged: tuple[str, ...]  # names of the flagged raters
    with_all: Recommendation | None
    without_flagged: Recommendation | None  # None also when nobody is flagged


def recommendation_with_and_without(session: Session, run_id: int) -> WithWithout:
    raters = quality(session, run_id)
    flagged = [r for r in raters if r.flagged]
    with_all = recommend(checkpoint_points(checkpoint_scores(session, run_id)))
    without = None
    if flagged:
        rows = checkpoint_scores(session, run_id, exclude_raters=tuple(r.rater_id for r in flagged))
        without = recommend(checkpoint_points(rows))
    return WithWithout(tuple(r.name for r in flagged), with_all, without)
