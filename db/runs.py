"""Runs, their status and their metrics."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.errors import RunNotFound
from db.ids import could_be_id, parse_id
from db.limits import check_text
from db.models import RUN_STATUSES, Checkpoint, Mask, Metric, Run, Sample, utcnow
from db.upsert import conflict_insert


def add_run(session: Session, name: str, config: dict, code_version: str | None = None) -> Run:
    check_text(Run, name=name, code_version=code_version)
    run = Run(name=name, config=config, status="running", code_version=code_version)
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id) if could_be_id(run_id) else None
    if run is None:
        raise RunNotFound(f"run {run_id} not found")
    return run


def get_run_by_name(session: Session, name: str) -> Run | None:
    return session.scalar(select(Run).where(Run.name == name))


def release_failed_name(session: Session, name: str) -> bool:
    """Delete the run called `name` when it failed before writing any checkpoint (nothing to resume or
    rate), so the corrected command can take the name again; True when a row was deleted."""
    run = get_run_by_name(session, name)
    if run is None or run.status != "failed":
        return False
    if session.scalar(select(func.count()).select_from(Checkpoint).where(Checkpoint.run_id == run.id)):
        return False
    session.execute(delete(Metric).where(Metric.run_id == run.id))
    session.delete(run)
    session.flush()
    return True


def end_if_running(session: Session, run_id: int, status: str, error: str | None = None) -> bool:
    """Set a final status unless the run already has one (a training process that outlives the one that
    owns the row, e.g. another rank after rank 0 died); True when it was written."""
    run = session.get(Run, run_id)
    if run is None or run.status != "running":
        return False
    set_run_status(session, run_id, status, error=error)
    return True


def find_run(session: Session, key: str) -> Run:
    """A run by name, or by id when `key` is a number."""
    run = get_run_by_name(session, key)
    if run is None and (run_id := parse_id(key)) is not None:
        run = session.get(Run, run_id)
    if run is None:
        names = session.scalars(select(Run.name).order_by(Run.id)).all()
        hint = f"; known runs: {', '.join(names)}" if names else "; there are no runs yet"
        raise RunNotFound(f"run {key!r} not found{hint}")
    return run


def list_runs(session: Session) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id)))


def set_run_status(session: Session, run_id: int, status: str, error: str | None = None) -> None:
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    run = get_run(session, run_id)
    run.status = status
    run.error = error
    run.finished_at = None if status == "running" else utcnow()


def add_metrics(session: Session, run_id: int, step: int, values: Mapping[str, float]) -> None:
    """Write one step's metrics; a re-run of the same step (after a resume) overwrites them."""
    for name in values:
        check_text(Metric, name=name)
    rows = [{"run_id": run_id, "step": step, "name": k, "value": float(v)} for k, v in values.items()]
    if not rows:
        return
    stmt = conflict_insert(session, Metric).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "name", "step"], set_={"value": stmt.excluded.value}
    )
    session.execute(stmt)


def delete_metrics_after(session: Session, run_id: int, step: int) -> int:
    """Drop metrics logged after `step` (a resumed run re-logs them from its checkpoint)."""
    result = session.execute(delete(Metric).where(Metric.run_id == run_id, Metric.step > step))
    return result.rowcount or 0


def list_metrics(session: Session, run_id: int, names: Iterable[str] | None = None) -> list[Metric]:
    query = select(Metric).where(Metric.run_id == run_id)
    if names is not None:
        query = query.where(Metric.name.in_(list(names)))
    return list(session.scalars(query.order_by(Metric.name, Metric.step)))


def latest_checkpoint(session: Session, run_id: int) -> Checkpoint | None:
    return session.scalar(
        select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step.desc()).limit(1)
    )


def run_counts(session: Session, run_id: int) -> dict[str, int]:
    """What a run has produced so far: checkpoints, samples, and masks waiting for review (all runs)."""
    checkpoints = session.scalar(select(func.count()).select_from(Checkpoint).where(Checkpoint.run_id == run_id))
    samples = session.scalar(
        select(func.count()).select_from(Sample).join(Checkpoint).where(Checkpoint.run_id == run_id)
    )
    queue = session.scalar(select(func.count()).select_from(Mask).where(Mask.status == "needs_review"))
    return {"checkpoints": checkpoints or 0, "samples": samples or 0, "review_queue": queue or 0}


def metric_series(
    session: Session, run_id: int, names: tuple[str, ...] = ("loss", "lr"), max_points: int = 600
) -> list[tuple[str, int, float]]:
    """(name, step, value) per metric, thinned in SQL to about `max_points` per metric."""
    counts = dict(
        session.execute(
            select(Metric.name, func.count()).where(Metric.run_id == run_id, Metric.name.in_(names)).group_by(Metric.name)
        ).all()
    )
    if not counts:
        return []
    stride = max(1, -(-max(counts.values()) // max_points))
    numbered = (
        select(
            Metric.name, Metric.step, Metric.value,
            func.row_number().over(partition_by=Metric.name, order_by=Metric.step).label("rn"),
        )
        .where(Metric.run_id == run_id, Metric.name.in_(names))
        .subquery()
    )
    rows = session.execute(
        select(numbered.c.name, numbered.c.step, numbered.c.value)
        .where((numbered.c.rn - 1) % stride == 0)
        .order_by(numbered.c.name, numbered.c.step)
    ).all()
    return [(r[0], int(r[1]), float(r[2])) for r in rows]
