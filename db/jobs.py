"""Generation jobs: the queue between the Telegram bot (no model) and the workers (one per GPU).

Life of a job: `add_job` (the bot, under the user's rate limit and the queue caps) → `claim_job` (a
worker takes the oldest claimable job and a lease: a random token and an expiry) → `renew_lease`
(progress and heartbeats; a worker that lost its lease stops) → `complete_job` (candidates stored as
samples, masks and job rows, in one transaction, only while the lease is still the worker's) or
`fail_attempt` (back to the queue, or failed after MAX_ATTEMPTS). A worker killed mid-job simply
stops renewing: once its lease expires the job is claimable again, and a job whose lease ran out
MAX_ATTEMPTS times is failed (by the next claim or by the bot's sweep) and reported to the user.

Claiming: on PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED`, so workers never wait for each other's rows;
on SQLite the write transaction (BEGIN IMMEDIATE, db/engine.py) already serialises claims.
Times are the workers' clocks (UTC): keep the machines' clocks synchronised (NTP).
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PIL import Image as PILImage
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from db.candidates import free_text_prompt, store_candidates
from db.errors import EmojichError
from db.images import put_image
from db.masks import add_mask
from db.models import Checkpoint, Decision, GenerationJob, JobCandidate, Sample, utcnow
from db.samples import NewSample

MAX_ATTEMPTS = 3
PENDING = ("queued", "running")


class NoReleasedModel(EmojichError):
    pass


class RequestRefused(EmojichError):
    """A request over a limit: `reason` is rate | user_queue | queue_full."""

    def __init__(self, reason: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


class LeaseLost(EmojichError):
    pass


@dataclass(frozen=True)
class Limits:
    per_minute: int = 3  # requests one user may make in any 60 s
    pending_per_user: int = 2  # a user's jobs queued or running at once
    queue_cap: int = 200  # jobs queued in all


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def released_checkpoint(session: Session) -> Checkpoint | None:
    """The checkpoint chosen in the workbench: the latest decision of any run."""
    decision = session.scalar(select(Decision).order_by(Decision.created_at.desc(), Decision.id.desc()).limit(1))
    return None if decision is None else session.get(Checkpoint, decision.checkpoint_id)


def add_job(session: Session, *, user_id: int, chat_id: int, prompt: str, language: str | None = None,
            limits: Limits = Limits(), now: datetime | None = None) -> GenerationJob:
    """Queue a caption for the released checkpoint; NoReleasedModel or RequestRefused otherwise."""
    now = now or utcnow()
    checkpoint = released_checkpoint(session)
    if checkpoint is None:
        raise NoReleasedModel("no checkpoint has been chosen in the workbench yet")
    window = now - timedelta(seconds=60)
    recent = list(session.scalars(
        select(GenerationJob.created_at)
        .where(GenerationJob.telegram_user_id == user_id, GenerationJob.created_at > window)
        .order_by(GenerationJob.created_at)
    ))
    if len(recent) >= limits.per_minute:
        wait = (aware(recent[-limits.per_minute]) + timedelta(seconds=60) - now).total_seconds()
        raise RequestRefused("rate", f"at most {limits.per_minute} requests a minute", max(1.0, wait))
    pending = session.scalar(
        select(func.count()).select_from(GenerationJob)
        .where(GenerationJob.telegram_user_id == user_id, GenerationJob.status.in_(PENDING))
    )
    if pending >= limits.pending_per_user:
        raise RequestRefused("user_queue", f"{pending} requests are already waiting")
    queued = session.scalar(select(func.count()).select_from(GenerationJob).where(GenerationJob.status == "queued"))
    if queued >= limits.queue_cap:
        raise RequestRefused("queue_full", f"the queue is full ({queued} requests)")
    job = GenerationJob(telegram_user_id=user_id, chat_id=chat_id, language=language, prompt=prompt,
                        checkpoint_id=checkpoint.id, status="queued", attempts=0, progress=0.0, created_at=now)
    session.add(job)
    session.flush()
    return job


def queue_position(session: Session, job_id: int) -> int | None:
    """1-based place of a queued job among all queued jobs (None when it is not queued)."""
    status = session.scalar(select(GenerationJob.status).where(GenerationJob.id == job_id))
    if status != "queued":
        return None
    return session.scalar(
        select(func.count()).select_from(GenerationJob)
        .where(GenerationJob.status == "queued", GenerationJob.id <= job_id)
    )


def set_status_message(session: Session, job_id: int, message_id: int) -> None:
    session.execute(update(GenerationJob).where(GenerationJob.id == job_id).values(status_message_id=message_id))


@dataclass(frozen=True)
class Claim:
    job_id: int
    token: str
    attempt: int
    prompt: str
    checkpoint_id: int
    checkpoint_path: str | None


def _fail_abandoned(job: GenerationJob, now: datetime) -> None:
    job.status, job.finished_at = "failed", now
    job.error = f"the worker stopped while drawing it, {job.attempts} times"
    job.lease_token = job.lease_expires_at = None


def claim_job(session: Session, worker: str, lease_s: float, *, max_attempts: int = MAX_ATTEMPTS,
              now: datetime | None = None) -> Claim | None:
    """Lease the oldest job that is queued or whose lease expired (None if there is none)."""
    now = now or utcnow()
    claimable = or_(GenerationJob.status == "queued",
                    and_(GenerationJob.status == "running", GenerationJob.lease_expires_at < now))
    while True:
        job = session.scalar(
            select(GenerationJob).where(claimable).order_by(GenerationJob.id).limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        if job.status == "running" and job.attempts >= max_attempts:
            _fail_abandoned(job, now)
            session.flush()
            continue
        job.status, job.attempts, job.progress = "running", job.attempts + 1, 0.0
        job.lease_token, job.lease_expires_at = secrets.token_hex(16), now + timedelta(seconds=lease_s)
        job.worker, job.started_at = worker[:200], job.started_at or now
        session.flush()
        path = session.scalar(select(Checkpoint.path).where(Checkpoint.id == job.checkpoint_id))
        return Claim(job.id, job.lease_token, job.attempts, job.prompt, job.checkpoint_id, path)


def renew_lease(session: Session, job_id: int, token: str, lease_s: float, progress: float | None = None,
                now: datetime | None = None) -> bool:
    """Extend the lease (and record progress); False when the lease is no longer this worker's."""
    now = now or utcnow()
    values: dict = {"lease_expires_at": now + timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = min(1.0, max(0.0, float(progress)))
    result = session.execute(
        update(GenerationJob)
        .where(GenerationJob.id == job_id, GenerationJob.lease_token == token, GenerationJob.status == "running")
        .values(**values)
    )
    return result.rowcount == 1


def _held(session: Session, job_id: int, token: str) -> GenerationJob:
    job = session.scalar(select(GenerationJob).where(GenerationJob.id == job_id).with_for_update())
    if job is None or job.status != "running" or job.lease_token != token:
        raise LeaseLost(f"job {job_id} is no longer leased to this worker")
    return job


@dataclass(frozen=True)
class CandidateResult:
    """One kept candidate as a worker made it: the sample, its machine mask and its cut-out."""

    seed: int
    perplexity: float
    image: PILImage.Image  # RGB
    rgba: PILImage.Image  # the cut-out the sticker is made from
    mask: PILImage.Image  # L, 255 = opaque
    mask_source: str  # unet | contour
    confidence_mean: float | None = None
    confidence_object: float | None = None
    round: int | None = None
    top_k: int = 2048
    top_p: float = 0.995
    temperature: float = 1.0


def complete_job(session: Session, job_id: int, token: str, sampled: int,
                 results: Sequence[CandidateResult], now: datetime | None = None) -> list[int]:
    """Store the kept candidates (best first) as samples of the job's checkpoint with their masks (a U-Net
    mask accepted as a pseudo-label, a contour fallback queued for review, as `segment round` does) and
    mark the job done. LeaseLost, and nothing stored, if another worker has the job now."""
    job = _held(session, job_id, token)
    prompt_id = free_text_prompt(session, job.prompt).id
    new = [NewSample(prompt_id, r.seed, r.image, r.top_k, r.top_p, r.temperature, r.perplexity) for r in results]
    sample_ids = store_candidates(session, job.checkpoint_id, new)
    candidate_ids = []
    for rank, (result, sample_id) in enumerate(zip(results, sample_ids, strict=True)):
        add_mask(session, result.mask, sample_id=sample_id, source=result.mask_source,
                 status="accepted" if result.mask_source == "unet" else "needs_review", round=result.round,
                 confidence_mean=result.confidence_mean, confidence_object=result.confidence_object)
        row = JobCandidate(job_id=job_id, rank=rank, sample_id=sample_id, rgba_sha256=put_image(session, result.rgba),
                           mask_method=result.mask_source)
        session.add(row)
        session.flush()
        candidate_ids.append(row.id)
    job.status, job.progress, job.sampled, job.error = "done", 1.0, sampled, None
    job.finished_at = now or utcnow()
    job.lease_token = job.lease_expires_at = None
    session.flush()
    return candidate_ids


def fail_attempt(session: Session, job_id: int, token: str, error: str, *, max_attempts: int = MAX_ATTEMPTS,
                 now: datetime | None = None) -> str:
    """Record a failed attempt: the job is queued again, or failed after `max_attempts`. Returns the new
    status ("lost" when the lease is no longer this worker's: nothing changes)."""
    try:
        job = _held(session, job_id, token)
    except LeaseLost:
        return "lost"
    job.error = error[:2000]
    job.lease_token = job.lease_expires_at = None
    if job.attempts >= max_attempts:
        job.status, job.finished_at = "failed", now or utcnow()
    else:
        job.status, job.progress = "queued", 0.0
    session.flush()
    return job.status


def _abandoned(max_attempts: int, now: datetime):
    return and_(GenerationJob.status == "running", GenerationJob.lease_expires_at < now,
                GenerationJob.attempts >= max_attempts)


def count_abandoned_jobs(session: Session, *, max_attempts: int = MAX_ATTEMPTS, now: datetime | None = None) -> int:
    """How many jobs `fail_abandoned_jobs` would fail (a read: the bot asks before it takes the write lock)."""
    return session.scalar(select(func.count()).select_from(GenerationJob)
                          .where(_abandoned(max_attempts, now or utcnow()))) or 0


def fail_abandoned_jobs(session: Session, *, max_attempts: int = MAX_ATTEMPTS, now: datetime | None = None) -> int:
    """Fail the jobs whose lease ran out on their last allowed attempt (their workers died)."""
    now = now or utcnow()
    jobs = session.scalars(
        select(GenerationJob).where(_abandoned(max_attempts, now)).with_for_update(skip_locked=True)
    ).all()
    for job in jobs:
        _fail_abandoned(job, now)
    session.flush()
    return len(jobs)


@dataclass(frozen=True)
class JobView:
    """What the bot needs to keep a user informed about one job."""

    id: int
    chat_id: int
    user_id: int
    language: str | None
    prompt: str
    status: str
    progress: float
    attempts: int
    status_message_id: int | None
    position: int | None  # 1-based place among queued jobs (None unless queued)
    error: str | None


def undelivered_jobs(session: Session) -> list[JobView]:
    """Jobs whose outcome the bot has not yet sent (with the queue position of the queued ones)."""
    queued = list(session.scalars(
        select(GenerationJob.id).where(GenerationJob.status == "queued").order_by(GenerationJob.id)
    ))
    places = {job_id: i + 1 for i, job_id in enumerate(queued)}
    rows = session.scalars(
        select(GenerationJob).where(GenerationJob.delivered_at.is_(None)).order_by(GenerationJob.id)
    )
    return [JobView(j.id, j.chat_id, j.telegram_user_id, j.language, j.prompt, j.status, j.progress, j.attempts,
                    j.status_message_id, places.get(j.id), j.error) for j in rows]


def mark_delivered(session: Session, job_id: int, now: datetime | None = None) -> None:
    session.execute(update(GenerationJob).where(GenerationJob.id == job_id).values(delivered_at=now or utcnow()))


@dataclass(frozen=True)
class CandidateView:
    id: int
    rank: int
    rgba_sha256: str
    sample_id: int
    perplexity: float | None
    mask_method: str


def list_job_candidates(session: Session, job_id: int) -> list[CandidateView]:
    rows = session.execute(
        select(JobCandidate.id, JobCandidate.rank, JobCandidate.rgba_sha256, JobCandidate.sample_id,
               Sample.perplexity, JobCandidate.mask_method)
        .join(Sample, Sample.id == JobCandidate.sample_id)
        .where(JobCandidate.job_id == job_id).order_by(JobCandidate.rank)
    ).all()
    return [CandidateView(*r) for r in rows]


def get_job(session: Session, job_id: int) -> GenerationJob | None:
    return session.get(GenerationJob, job_id)
