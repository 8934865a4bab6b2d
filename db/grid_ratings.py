"""Grid ratings: a rater scores one checkpoint's whole grid on the three criteria at once (the
report's way), stored apart from per-image ratings."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from db.errors import CheckpointNotFound
from db.models import SCORE_COLUMNS, Checkpoint, GridRating, utcnow
from db.ratings import Scores
from db.upsert import conflict_insert

SCALE = (1, 2, 3, 4, 5)


def save_grid_rating(session: Session, rater_id: int, checkpoint_id: int, scores: Scores) -> bool:
    """Insert or edit this rater's scores of the grid. True when it is their first for it."""
    if session.get(Checkpoint, checkpoint_id) is None:
        raise CheckpointNotFound(f"checkpoint {checkpoint_id} no longer exists; nothing was saved")
    existed = get_grid_scores(session, rater_id, checkpoint_id) is not None
    now = utcnow()
    values = {"rater_id": rater_id, "checkpoint_id": checkpoint_id, "created_at": now, "updated_at": now,
              **{c: getattr(scores, c) for c in SCORE_COLUMNS}}
    stmt = conflict_insert(session, GridRating).values(**values).on_conflict_do_update(
        index_elements=["rater_id", "checkpoint_id"], set_={c: values[c] for c in (*SCORE_COLUMNS, "updated_at")}
    )
    session.execute(stmt)
    return not existed


def get_grid_scores(session: Session, rater_id: int, checkpoint_id: int) -> Scores | None:
    row = session.execute(
        select(GridRating.generality, GridRating.emoji_style, GridRating.quality)
        .where(GridRating.rater_id == rater_id, GridRating.checkpoint_id == checkpoint_id)
    ).first()
    return Scores(*row) if row else None


@dataclass(frozen=True)
class GridSummary:
    checkpoint_id: int
    step: int
    raters: int
    means: dict[str, float]
    counts: dict[str, list[int]]  # per criterion: how many raters gave 1, 2, 3, 4, 5 (α's input)


def grid_summary(session: Session, run_id: int) -> list[GridSummary]:
    """Per checkpoint of the run with grid ratings: raters, mean per criterion, score counts."""
    columns = [Checkpoint.id, Checkpoint.step, func.count()]
    for criterion in SCORE_COLUMNS:
        column = getattr(GridRating, criterion)
        columns.append(func.avg(column))
        columns += [func.sum(case((column == v, 1), else_=0)) for v in SCALE]
    rows = session.execute(
        select(*columns).join(Checkpoint, Checkpoint.id == GridRating.checkpoint_id)
        .where(Checkpoint.run_id == run_id).group_by(Checkpoint.id, Checkpoint.step).order_by(Checkpoint.step)
    ).all()
    out = []
    width = 1 + len(SCALE)
    for row in rows:
        means, counts = {}, {}
        for i, criterion in enumerate(SCORE_COLUMNS):
            block = row[3 + i * width : 3 + (i + 1) * width]
            means[criterion] = float(block[0])
            counts[criterion] = [int(n) for n in block[1:]]
        out.append(GridSummary(int(row[0]), int(row[1]), int(row[2]), means, counts))
    return out
