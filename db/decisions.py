"""Decisions: the stopping checkpoint an admin chose for a run, with a reason."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import EmojichError
from db.models import Decision
from db.raters import require_admin
from db.samples import get_checkpoint


def add_decision(session: Session, rater_id: int, checkpoint_id: int, reason: str) -> Decision:
    """Record the chosen checkpoint; only admins may (PermissionDenied otherwise)."""
    require_admin(session, rater_id, "choose the stopping checkpoint")
    reason = (reason or "").strip()
    if not reason:
        raise EmojichError("say why this checkpoint was chosen (the reason is required)")
    checkpoint = get_checkpoint(session, checkpoint_id)
    decision = Decision(run_id=checkpoint.run_id, checkpoint_id=checkpoint.id, rater_id=rater_id, reason=reason)
    session.add(decision)
    session.flush()
    return decision


def latest_decision(session: Session, run_id: int) -> Decision | None:
    return session.scalar(
        select(Decision).where(Decision.run_id == run_id).order_by(Decision.created_at.desc(), Decision.id.desc()).limit(1)
    )
