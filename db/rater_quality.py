"""The sums rater quality is computed from, in SQL (workbench/app/analytics/rater_quality.py has
the statistics): each rater against the leave-one-out consensus, and silent repeats against the
first rating."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from db.models import SCORE_COLUMNS, Checkpoint, Rater, Rating, RatingRepeat, Sample


@dataclass(frozen=True)
class ConsensusRow:
    rater_id: int
    name: str
    ratings: int
    n: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float
    offsets: dict[str, float]


@dataclass(frozen=True)
class RetestRow:
    rater_id: int
    n: int
    sum_abs_diff: float


def _in_run(run_id: int):
    return select(Sample.id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id).where(Checkpoint.run_id == run_id)


def consensus_sums(session: Session, run_id: int, outside: tuple[int, ...] = ()) -> list[ConsensusRow]:
    """Per rater, over their ratings of images others rated too: x = own combined score, y = the
    other raters' mean combined score; Σx, Σy, Σx², Σy², Σxy and per criterion Σ(own − others').
    Raters in `outside` do not count towards anyone's consensus (their own sums are still given,
    against everyone else's): how an outlier is kept from making the others look off."""
    g, e, q = (getattr(Rating, c) for c in SCORE_COLUMNS)
    per_sample = (
        select(
            Rating.sample_id.label("sample_id"), func.count().label("n"),
            func.sum((g + e + q) / 3.0).label("s"), func.sum(g).label("sg"), func.sum(e).label("se"), func.sum(q).label("sq"),
        )
        .where(Rating.sample_id.in_(_in_run(run_id)), Rating.rater_id.not_in(outside))
        .group_by(Rating.sample_id).subquery()
    )
    own = case((Rating.rater_id.in_(outside), 0.0), else_=1.0) if outside else literal(1.0)
    x = (g + e + q) / 3.0
    others = per_sample.c.n - own
    y = (per_sample.c.s - own * x) / others
    offsets = [func.sum(col - (total - own * col) / others) for col, total in
               ((g, per_sample.c.sg), (e, per_sample.c.se), (q, per_sample.c.sq))]
    rows = session.execute(
        select(Rating.rater_id, func.count(), func.sum(x), func.sum(y), func.sum(x * x), func.sum(y * y), func.sum(x * y), *offsets)
        .join(per_sample, per_sample.c.sample_id == Rating.sample_id).where(others >= 1).group_by(Rating.rater_id)
    ).all()
    sums = {int(r[0]): r for r in rows}
    totals = session.execute(
        select(Rater.id, Rater.name, func.count()).join(Rating, Rating.rater_id == Rater.id)
        .where(Rating.sample_id.in_(_in_run(run_id))).group_by(Rater.id, Rater.name).order_by(Rater.name)
    ).all()
    out = []
    for rater_id, name, count in totals:
        r = sums.get(rater_id)
        if r is None:
            out.append(ConsensusRow(rater_id, name, int(count), 0, 0.0, 0.0, 0.0, 0.0, 0.0, dict.fromkeys(SCORE_COLUMNS, 0.0)))
        else:
            out.append(ConsensusRow(rater_id, name, int(count), int(r[1]), *(float(v) for v in r[2:7]),
                                    dict(zip(SCORE_COLUMNS, (float(v) for v in r[7:10]), strict=True))))
    return out


def retest_sums(session: Session, run_id: int) -> list[RetestRow]:
    """Per rater: silent repeats and Σ over them of |first − repeat| summed over the three criteria."""
    diff = sum(func.abs(getattr(RatingRepeat, c) - getattr(Rating, c)) for c in SCORE_COLUMNS)
    rows = session.execute(
        select(RatingRepeat.rater_id, func.count(), func.sum(diff))
        .join(Rating, and_(Rating.rater_id == RatingRepeat.rater_id, Rating.sample_id == RatingRepeat.sample_id))
        .where(RatingRepeat.sample_id.in_(_in_run(run_id))).group_by(RatingRepeat.rater_id)
    ).all()
    return [RetestRow(int(r[0]), int(r[1]), float(r[2] or 0)) for r in rows]
