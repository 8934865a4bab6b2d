"""Pairwise comparisons: the same prompt and seed from two checkpoints, judged left / right / tie."""
from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from db.errors import EmojichError, SampleNotFound
from db.models import Checkpoint, Comparison, Sample, utcnow
from db.upsert import conflict_insert

CHOICES = ("left", "right", "tie")


class InvalidComparison(EmojichError):
    pass


@dataclass(frozen=True)
class Pair:
    prompt_id: int
    left: Sample
    right: Sample


@dataclass(frozen=True)
class Outcome:
    checkpoint_a: int
    checkpoint_b: int
    winner: str  # a | b | tie, relative to checkpoint_a / checkpoint_b
    count: int


def count_comparisons(session: Session, rater_id: int | None = None) -> int:
    query = select(func.count()).select_from(Comparison)
    if rater_id is not None:
        query = query.where(Comparison.rater_id == rater_id)
    return int(session.scalar(query) or 0)


def next_pair(session: Session, rater_id: int, run_id: int, *, attempts: int = 40) -> Pair | None:
    """A pair this rater has not judged: same prompt and seed, two checkpoints, sides shuffled.

    Reproducible per rater and progress (the RNG is seeded by rater and number of judgements).
    """
    checkpoint_ids = list(session.scalars(select(Checkpoint.id).where(Checkpoint.run_id == run_id).order_by(Checkpoint.id)))
    if len(checkpoint_ids) < 2:
        return None
    rng = random.Random(f"{rater_id}:{count_comparisons(session, rater_id)}")
    a, b = aliased(Sample), aliased(Sample)
    for _ in range(attempts):
        first, second = rng.sample(checkpoint_ids, 2)
        rows = session.execute(
            select(a, b)
            .join(b, and_(b.prompt_id == a.prompt_id, b.seed == a.seed, b.checkpoint_id == second))
            .where(a.checkpoint_id == first)
            .order_by(a.id)  # a fixed order before the seeded shuffle, so the pair is reproducible
        ).all()
        rng.shuffle(rows)
        for left, right in rows[:8]:
            lo, hi = sorted((left.id, right.id))
            done = session.scalar(
                select(Comparison.id).where(
                    Comparison.rater_id == rater_id, Comparison.sample_a == lo, Comparison.sample_b == hi
                )
            )
            if done is None:
                return Pair(prompt_id=left.prompt_id, left=left, right=right)
    return None


def save_comparison(session: Session, rater_id: int, left_id: int, right_id: int, choice: str) -> int:
    """Store a judgement (stored with sample_a < sample_b); judging the same pair again edits it."""
    if choice not in CHOICES:
        raise InvalidComparison(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}")
    samples = {s.id: s for s in session.scalars(select(Sample).where(Sample.id.in_([left_id, right_id])))}
    for sample_id in (left_id, right_id):
        if sample_id not in samples:
            raise SampleNotFound(f"sample {sample_id} no longer exists (it was deleted); nothing was saved")
    left, right = samples[left_id], samples[right_id]
    if left_id == right_id or (left.prompt_id, left.seed) != (right.prompt_id, right.seed):
        raise InvalidComparison("a comparison needs two different samples of the same prompt and seed")
    lo, hi = sorted((left_id, right_id))
    if choice == "tie":
        winner = "tie"
    else:
        chosen = left_id if choice == "left" else right_id
        winner = "a" if chosen == lo else "b"
    values = {
        "rater_id": rater_id, "prompt_id": left.prompt_id, "sample_a": lo, "sample_b": hi,
        "winner": winner, "created_at": utcnow(),
    }
    stmt = conflict_insert(session, Comparison).values(**values).on_conflict_do_update(
        index_elements=["rater_id", "sample_a", "sample_b"], set_={"winner": winner, "created_at": values["created_at"]}
    )
    return session.execute(stmt.returning(Comparison.id)).scalar_one()


def list_outcomes(session: Session, run_id: int) -> list[Outcome]:
    """Judgement counts per checkpoint pair and winner, aggregated in SQL."""
    sa, sb = aliased(Sample), aliased(Sample)
    ca = aliased(Checkpoint)
    rows = session.execute(
        select(sa.checkpoint_id, sb.checkpoint_id, Comparison.winner, func.count())
        .join(sa, sa.id == Comparison.sample_a)
        .join(sb, sb.id == Comparison.sample_b)
        .join(ca, ca.id == sa.checkpoint_id)
        .where(ca.run_id == run_id)
        .group_by(sa.checkpoint_id, sb.checkpoint_id, Comparison.winner)
    ).all()
    return [Outcome(r[0], r[1], r[2], int(r[3])) for r in rows]


@dataclass(frozen=True)
class PairView:
    """A pair as the blind page shows it: two images of one prompt, no checkpoint or step."""

    left_id: int
    right_id: int
    left_sha256: str
    right_sha256: str
    prompt: str


def next_pair_view(session: Session, rater_id: int, run_id: int) -> PairView | None:
    from db.models import Prompt

    pair = next_pair(session, rater_id, run_id)
    if pair is None:
        return None
    text = session.scalar(select(Prompt.text).where(Prompt.id == pair.prompt_id))
    return PairView(pair.left.id, pair.right.id, pair.left.image_sha256, pair.right.image_sha256, text or "")
