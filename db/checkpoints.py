"""A run's checkpoints and prompts: steps in order, the prompts used, one prompt across all checkpoints."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from db.models import Checkpoint, Prompt, Sample


def checkpoint_steps(session: Session, run_id: int) -> list[tuple[int, int]]:
    """(checkpoint id, step) of a run, in step order."""
    rows = session.execute(
        select(Checkpoint.id, Checkpoint.step).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step)
    ).all()
    return [(int(r[0]), int(r[1])) for r in rows]


@dataclass(frozen=True)
class PromptTile:
    step: int
    checkpoint_id: int
    sample_id: int
    image_sha256: str
    seed: int


def run_prompts(session: Session, run_id: int) -> list[Prompt]:
    """The prompts this run's samples were made from."""
    used = (
        select(Sample.prompt_id)
        .join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
        .where(Checkpoint.run_id == run_id)
        .distinct()
        .subquery()
    )
    return list(session.scalars(select(Prompt).where(Prompt.id.in_(select(used.c.prompt_id))).order_by(Prompt.position)))


def prompt_across_checkpoints(session: Session, run_id: int, prompt_id: int) -> list[PromptTile]:
    """One sample (lowest seed) of a prompt at every checkpoint: the report's Figure 4."""
    first_seed = (
        select(Sample.checkpoint_id, func.min(Sample.seed).label("seed"))
        .where(Sample.prompt_id == prompt_id)
        .group_by(Sample.checkpoint_id)
        .subquery()
    )
    rows = session.execute(
        select(Checkpoint.step, Checkpoint.id, Sample.id, Sample.image_sha256, Sample.seed)
        .join(Sample, Sample.checkpoint_id == Checkpoint.id)
        .join(first_seed, and_(first_seed.c.checkpoint_id == Sample.checkpoint_id, first_seed.c.seed == Sample.seed))
        .where(Checkpoint.run_id == run_id, Sample.prompt_id == prompt_id)
        .order_by(Checkpoint.step)
    ).all()
    return [PromptTile(*r) for r in rows]
