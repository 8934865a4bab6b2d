"""Workers on the job queue: leases, a worker SIGKILLed mid-job, two workers sharing one queue (SQLite and
PostgreSQL), three failures, and a lease another worker took over."""
from __future__ import annotations

import re
import signal
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from db.engine import make_engine, read_session, write_session
from db.jobs import LeaseLost, Limits, add_job, claim_job, complete_job, fail_attempt, renew_lease
from db.migrate import downgrade, upgrade
from db.models import GenerationJob, JobCandidate, Mask, Sample, utcnow
from tests.fixtures_bot import start_worker_process, worker_thread

MANY = Limits(per_minute=1000, pending_per_user=1000, queue_cap=1000)


def _queue(engine, prompts: list[str], user_id: int = 7) -> list[int]:
    with write_session(engine) as s:
        return [add_job(s, user_id=user_id + i, chat_id=user_id + i, prompt=p, limits=MANY).id
                for i, p in enumerate(prompts)]


def _job(engine, job_id: int) -> GenerationJob:
    with read_session(engine) as s:
        return s.get(GenerationJob, job_id)


def _wait(predicate, what: str, timeout: float = 120, proc=None):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"worker exited ({proc.proc.returncode}) before {what}: {proc.complaints()[-2000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def _counts(engine, job_id: int) -> tuple[int, int, int]:
    with read_session(engine) as s:
        candidates = s.scalar(select(func.count()).select_from(JobCandidate).where(JobCandidate.job_id == job_id))
        return candidates, s.scalar(select(func.count()).select_from(Sample)), s.scalar(
            select(func.count()).select_from(Mask))


def _done_by(output: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"job (\d+): done in [\d.]+ s by (\S+)", output)}


def test_two_workers_one_queue_one_killed_mid_job(bot_world):
    """Two workers share one queue: an `emojich worker` process and one in this test's process. The process
    is SIGKILLed in the middle of a job; the other finishes every job, the dead worker's included once its
    lease ran out, and no job is done twice."""
    world = bot_world
    # Many candidates drawn one at a time: a job takes long enough to be killed in the middle of it.
    slow = {"candidates": 100, "batch_size": 1, "show": 2, "lease_s": 3.0}
    doomed = start_worker_process(world.db_url, world.home, "doomed", "--candidates", "100", "--batch-size", "1",
                                  "--show", "2", "--lease", "3")
    try:
        _wait(lambda: "waiting for jobs" in doomed.said(), "the worker process to start", proc=doomed)
        with worker_thread(world.engine, world.home, name="survivor", **slow) as survivor_said:
            _wait(lambda: any("waiting for jobs" in line for line in survivor_said), "the second worker")
            ids = _queue(world.engine, ["ежик в голубой шапке", "кот в очках", "дом на дереве"])

            def doomed_mid_job():
                with read_session(world.engine) as s:
                    return s.scalar(select(GenerationJob).where(GenerationJob.worker == "doomed",
                                                                GenerationJob.status == "running",
                                                                GenerationJob.progress >= 0.1))

            killed = _wait(doomed_mid_job, "the doomed worker's progress", proc=doomed)
            doomed.proc.send_signal(signal.SIGKILL)
            assert doomed.proc.wait(30) == -signal.SIGKILL
            assert _counts(world.engine, killed.id)[0] == 0  # nothing of the killed attempt was written
            _wait(lambda: all(_job(world.engine, i).status == "done" for i in ids), "all jobs", timeout=240)
    finally:
        if doomed.proc.poll() is None:
            doomed.proc.kill()
        doomed.proc.wait(60)
    by_doomed, by_survivor = _done_by(doomed.said()), _done_by("\n".join(survivor_said))
    assert killed.id not in by_doomed and killed.id in by_survivor
    assert set(by_doomed) | set(by_survivor) == set(ids) and not set(by_doomed) & set(by_survivor)
    finished = _job(world.engine, killed.id)
    assert finished.attempts == 2 and finished.worker == "survivor" and finished.sampled == 100
    assert any(f"job {killed.id}: done" in line and "(attempt 2;" in line for line in survivor_said)
    with read_session(world.engine) as s:
        attempts = {j.id: j.attempts for j in s.scalars(select(GenerationJob))}
    assert attempts == {i: 2 if i == killed.id else 1 for i in ids}
    for job_id in ids:  # each job's candidates stored once: 2 samples, 2 masks, 2 candidate rows each
        assert _counts(world.engine, job_id)[0] == 2
    assert _counts(world.engine, ids[0])[1:] == (6, 6)


@pytest.fixture
def pg_world(pg_url, tiny_checkpoint_file, tmp_path):
    from tests.fixtures_generation import release

    downgrade(pg_url, "base")
    upgrade(pg_url)
    engine = make_engine(pg_url)
    release(engine, tiny_checkpoint_file, home=tmp_path)  # the workers below use tmp_path as their home
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_two_workers_share_one_queue_postgres(pg_world, tmp_path, one_torch_thread):
    """Two workers (threads, each with its own connections) claim from one PostgreSQL queue with
    FOR UPDATE SKIP LOCKED: every job done once, by one of them."""
    ids = _queue(pg_world, [f"эмодзи номер {i}" for i in range(6)])
    with worker_thread(pg_world, tmp_path, name="left", candidates=24, batch_size=1) as left, \
            worker_thread(pg_world, tmp_path, name="right", candidates=24, batch_size=1) as right:
        _wait(lambda: all(_job(pg_world, i).status == "done" for i in ids), "all jobs", timeout=240)
    by_left, by_right = _done_by("\n".join(left)), _done_by("\n".join(right))
    assert set(by_left) | set(by_right) == set(ids) and not set(by_left) & set(by_right), (left, right)
    assert by_left and by_right, (left, right)
    with read_session(pg_world) as s:
        assert {j.attempts for j in s.scalars(select(GenerationJob))} == {1}
        assert s.scalar(select(func.count()).select_from(JobCandidate)) == 3 * len(ids)
        # PostgreSQL is strict about GROUP BY: the bot's and the Bot page's queries run there too
        from db import bot_stats, jobs

        assert len(jobs.undelivered_jobs(s)) == 6 and len(jobs.list_job_candidates(s, ids[0])) == 3
        assert bot_stats.requests_per_day(s)[0].requests == 6 and bot_stats.queue_state(s).done == 6
        assert bot_stats.median_answer_s(s) is None  # nothing delivered: no bot in this test
        assert bot_stats.most_picked_captions(s) == [] and bot_stats.picked_stickers(s) == []
        assert bot_stats.recent_failures(s) == []


@pytest.mark.postgres
def test_postgres_claims_skip_rows_another_worker_holds(pg_world):
    first, second = _queue(pg_world, ["кот", "пес"])
    with write_session(pg_world) as a:  # a's transaction holds job 1's row lock until it ends
        claim_a = claim_job(a, "a", 60)
        with write_session(pg_world) as b:
            claim_b = claim_job(b, "b", 60)  # does not wait for a: takes the next job
    assert (claim_a.job_id, claim_b.job_id) == (first, second)


def test_a_lease_taken_over_cannot_be_completed(engine, released_checkpoint):
    (job_id,) = _queue(engine, ["кот"])
    with write_session(engine) as s:
        stale = claim_job(s, "slow", lease_s=5, now=utcnow() - timedelta(seconds=10))  # expired already
    with write_session(engine) as s:
        fresh = claim_job(s, "fast", lease_s=60)
    assert fresh.job_id == job_id and fresh.attempt == 2
    with write_session(engine) as s:
        assert not renew_lease(s, job_id, stale.token, 60)
    with pytest.raises(LeaseLost), write_session(engine) as s:
        complete_job(s, job_id, stale.token, 1, [])
    with write_session(engine) as s:
        assert fail_attempt(s, job_id, stale.token, "late") == "lost"
    assert _job(engine, job_id).worker == "fast" and _job(engine, job_id).status == "running"


def test_three_failures_fail_the_job_and_dead_workers_count(bot_world):
    world = bot_world
    broken = world.home / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with write_session(world.engine) as s:
        from db.models import Checkpoint

        s.get(Checkpoint, world.checkpoint_id).path = str(broken)
    (job_id,) = _queue(world.engine, ["кот"])
    with worker_thread(world.engine, world.home) as said:
        failed = _wait(lambda: (j := _job(world.engine, job_id)).status == "failed" and j, "three failures")
    assert failed.attempts == 3 and "cannot be read" in failed.error
    attempts = [line for line in said if line.startswith(f"job {job_id}:")]
    assert [line.endswith("queued again") for line in attempts] == [True, True, False]
    assert "failed for good" in attempts[-1]

    # a job whose workers died three times is failed by the next claim (and reported by the bot)
    (dead,) = _queue(world.engine, ["пес"])
    past = utcnow() - timedelta(seconds=100)
    for attempt in range(3):  # each worker leased it for a second and was never heard of again
        with write_session(world.engine) as s:
            assert claim_job(s, "dies", lease_s=1, now=past + timedelta(seconds=10 * attempt)).job_id == dead
    with write_session(world.engine) as s:
        assert claim_job(s, "next", lease_s=60) is None
    job = _job(world.engine, dead)
    assert job.status == "failed" and job.attempts == 3 and "stopped while drawing it, 3 times" in job.error
