"""`emojich demo --no-serve` at reduced size: interrupted with Ctrl-C, continued, then re-run for free."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from db.engine import make_engine, read_session
from db.models import Captioner, Checkpoint, Mask, Metric, Rater, Run, Sample, SegmentationRound
from db.raters import authenticate

pytestmark = pytest.mark.slow


def _demo_command() -> list[str]:
    exe = shutil.which("emojich", path=os.path.dirname(sys.executable))
    assert exe
    return [exe, "demo", "--no-serve", "--quick"]


def _count(engine, query) -> int:
    with read_session(engine) as s:
        return s.scalar(query)


def test_demo_interrupt_continue_and_reuse(tmp_path):
    home = tmp_path / "var"
    env = {**os.environ, "EMOJICH_HOME": str(home), "EMOJICH_DB": "", "PYTHONUNBUFFERED": "1"}
    db_url = f"sqlite:///{home / 'emojich.db'}"

    # 1. Start the demo and press Ctrl-C once the fine-tune has written its first checkpoint.
    proc = subprocess.Popen(_demo_command(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    engine = None
    deadline = time.time() + 400
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(1)
            if not (home / "emojich.db").exists():
                continue
            engine = engine or make_engine(db_url)
            try:
                if _count(engine, select(func.count()).select_from(Checkpoint)) >= 1:
                    break
            except Exception:  # noqa: BLE001 - schema still being created
                continue
        assert proc.poll() is None, "the demo ended before it could be interrupted:\n" + proc.stdout.read()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    with read_session(engine) as s:
        assert s.scalar(select(Run.status).where(Run.name == "demo")) == "interrupted"
        # Whatever was interrupted, no checkpoint is left with a partial sample set.
        partial = s.scalars(
            select(func.count(Sample.id)).select_from(Checkpoint).outerjoin(Sample).group_by(Checkpoint.id)
        ).all()
        assert all(n == 64 for n in partial), partial

    # 2. Run again: it continues the same run to the end and finishes the loop.
    done = subprocess.run(_demo_command(), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    with read_session(engine) as s:
        run = s.scalar(select(Run).where(Run.name == "demo"))
        assert run.status == "finished"
        assert s.scalar(select(func.count()).select_from(Run)) == 1
        steps = s.scalars(select(Checkpoint.step).where(Checkpoint.run_id == run.id).order_by(Checkpoint.step)).all()
        assert len(steps) >= 3 and steps[0] == 0
        per_checkpoint = s.scalars(
            select(func.count(Sample.id)).join(Checkpoint).where(Checkpoint.run_id == run.id).group_by(Checkpoint.id)
        ).all()
        assert per_checkpoint == [64] * len(steps)
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.name == "loss")) >= 2
        assert s.scalar(select(func.count()).select_from(SegmentationRound)) == 1
        assert s.scalar(select(func.count()).select_from(Mask).where(Mask.sample_id.is_not(None))) == 64 * len(steps)
        assert s.scalar(select(Rater.is_admin).where(Rater.name == "admin")) is True
        assert s.scalar(select(func.count()).select_from(Captioner)) == 1  # the tiny captioner, every sample scored
        assert s.scalar(select(func.count()).select_from(Sample).where(Sample.caption_loss.is_(None))) == 0
        token = re.search(r"emj_\d+_\S+", done.stdout).group(0)
        assert authenticate(s, token).name == "admin"

    # 3. A third run reuses everything: no new checkpoint, no new round, a fresh admin token.
    again = subprocess.run(_demo_command(), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already finished" in again.stdout + again.stderr
    assert "reusing it" in again.stdout + again.stderr and "already have a caption loss" in again.stdout + again.stderr
    with read_session(engine) as s:
        assert len(s.scalars(select(Checkpoint.id)).all()) == len(steps)
        assert s.scalar(select(func.count()).select_from(SegmentationRound)) == 1
        new_token = re.search(r"emj_\d+_\S+", again.stdout).group(0)
        assert new_token != token and authenticate(s, new_token).name == "admin"
    engine.dispose()
