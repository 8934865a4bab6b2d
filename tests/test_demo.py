"""`emojich demo --quick` (configs/smoke.toml) end to end, in two separate homes:

A serves: the workbench answers before the fine-tune has finished, and a checkpoint the fine-tune writes after
the Rate page was first shown appears on it (AppTest against A's database, no restart); SIGTERM then stops
server and demo cleanly. B does not serve: Ctrl-C once the fine-tune has written a checkpoint (the run is
marked interrupted, no checkpoint is left half-written), a re-run resumes and finishes, a third run reuses
everything. A and B end with the same sample images, the same U-Net masks and the same review queue.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from db.engine import make_engine, read_session
from db.models import Captioner, Checkpoint, Mask, Metric, Prompt, Rater, Run, Sample, SegmentationRound
from db.raters import authenticate

pytestmark = pytest.mark.slow

APP = str(Path(__file__).resolve().parent.parent / "workbench" / "app" / "app.py")
TOKEN = re.compile(r"emj_\d+_\S+")
WAIT_S = 600  # generous: a busy 2-core machine can be many times slower than an idle one


def _demo(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", "--home", str(home), "demo", "--quick", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("EMOJICH_DB", "EMOJICH_HOME")}
    return {**env, "PYTHONUNBUFFERED": "1"}


class Output:
    """The demo's stdout+stderr, read as it comes (so the test can wait for a line)."""

    def __init__(self, proc: subprocess.Popen):
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc) -> None:
        for chunk in iter(lambda: proc.stdout.read(1), ""):
            self.text += chunk

    def wait_for(self, needle: str, proc: subprocess.Popen, timeout: float = WAIT_S) -> None:
        deadline = time.time() + timeout
        while needle not in self.text:
            assert proc.poll() is None or needle in self.text, f"demo exited before {needle!r}:\n{self.text}"
            assert time.time() < deadline, f"no {needle!r} within {timeout} s:\n{self.text}"
            time.sleep(0.1)

    def done(self) -> str:
        self._thread.join(timeout=30)
        return self.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _scalar(engine, query):
    with read_session(engine) as s:
        return s.scalar(query)


def _checkpoints(engine) -> int:
    return _scalar(engine, select(func.count()).select_from(Checkpoint))


def _wait_until(condition, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _rate_total(at: AppTest) -> int:
    """Rated plus still in this rater's queue, from the Rate page's "N rated · M to go"; 0 before any run."""
    if not at.get("progress"):
        assert any("nothing to rate yet" in i.value for i in at.info), [i.value for i in at.info]
        return 0
    done, left = re.fullmatch(r"(\d+) rated · (\d+) to go", at.get("progress")[0].proto.text).groups()
    return int(done) + int(left)


def _outcome(engine) -> dict:
    """What must be the same on every machine: sample images per (step, prompt), masks, the review queue."""
    with read_session(engine) as s:
        samples = s.execute(
            select(Checkpoint.step, Prompt.text, Sample.seed, Sample.image_sha256)
            .join(Sample, Sample.checkpoint_id == Checkpoint.id).join(Prompt, Prompt.id == Sample.prompt_id)
            .order_by(Checkpoint.step, Prompt.position)
        ).all()
        masks = s.execute(
            select(Checkpoint.step, Prompt.text, Mask.source, Mask.status, Mask.image_sha256)
            .join(Sample, Sample.id == Mask.sample_id).join(Checkpoint, Checkpoint.id == Sample.checkpoint_id)
            .join(Prompt, Prompt.id == Sample.prompt_id).order_by(Checkpoint.step, Prompt.position)
        ).all()
        queue = s.scalar(select(func.count()).select_from(Mask).where(Mask.status == "needs_review"))
        val_iou = s.scalar(select(SegmentationRound.val_iou))
    return {"samples": [tuple(r) for r in samples], "masks": [tuple(r) for r in masks], "queue": queue,
            "val_iou": val_iou}


def _stop_outside_a_write(proc: subprocess.Popen, db: Path) -> None:
    """SIGSTOP the demo, never inside one of its write transactions (a stopped writer would hold SQLite's
    write lock, and the page's own writes would wait for it): take the write lock first, stop, let it go."""
    holder = sqlite3.connect(db, isolation_level=None, timeout=60)
    try:
        holder.execute("BEGIN IMMEDIATE")  # waits until any write of the demo has committed
        os.kill(proc.pid, signal.SIGSTOP)
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def _serve_and_rate_while_training(tmp_path, monkeypatch) -> dict:
    home, port = tmp_path / "a", _free_port()
    url = f"sqlite:///{home / 'emojich.db'}"
    proc = subprocess.Popen(_demo(home, "--port", str(port), "--address", "127.0.0.1"), env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = Output(proc)
    engine = None
    try:
        out.wait_for("The workbench is serving at", proc)
        _stop_outside_a_write(proc, home / "emojich.db")  # hold the fine-tune while the page is first shown
        assert _answers(port)
        engine = make_engine(url)
        status = _scalar(engine, select(Run.status).where(Run.name == "demo"))
        assert status in (None, "running"), "serving started only after the fine-tune"
        before = _checkpoints(engine)

        monkeypatch.setenv("EMOJICH_DB", url)
        monkeypatch.setenv("EMOJICH_HOME", str(home))
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.text_input(key="login.token").input(TOKEN.search(out.text).group(0))
        at.button[0].click().run()
        assert not at.exception, at.exception
        shown = _rate_total(at)
        assert (shown > 0) == (before > 0) and shown <= 64 * before  # step 0's samples as soon as they are written

        os.kill(proc.pid, signal.SIGCONT)
        _wait_until(lambda: _checkpoints(engine) > before, "a checkpoint after the page was shown")
        time.sleep(1.5)  # the workbench checks for new data at most once a second
        at.run()
        assert not at.exception, at.exception
        assert shown < _rate_total(at) <= 64 * _checkpoints(engine), "the new checkpoint is not on Rate"

        out.wait_for("The workbench keeps serving at", proc)  # the whole loop done, still serving
        assert _answers(port)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
    text = out.done()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    _wait_until(lambda: not _answers(port), "the server to stop", timeout=30)
    outcome = _outcome(engine)
    engine.dispose()
    return outcome


def _interrupt_resume_and_reuse(tmp_path) -> dict:
    home = tmp_path / "b"
    url = f"sqlite:///{home / 'emojich.db'}"
    proc = subprocess.Popen(_demo(home, "--no-serve"), env=_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = Output(proc)
    try:
        out.wait_for("tiny ruDALL-E fine-tune", proc)
        engine = make_engine(url)
        _wait_until(lambda: _checkpoints(engine) >= 1 or proc.poll() is not None, "the first checkpoint")
        assert proc.poll() is None, "the demo ended before it could be interrupted:\n" + out.text
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.done()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "stopped cleanly" in text
    with read_session(engine) as s:
        assert s.scalar(select(Run.status).where(Run.name == "demo")) == "interrupted"
        per_checkpoint = s.scalars(
            select(func.count(Sample.id)).select_from(Checkpoint).outerjoin(Sample).group_by(Checkpoint.id)
        ).all()
        assert all(n == 64 for n in per_checkpoint), per_checkpoint  # none left half-written

    done = subprocess.run(_demo(home, "--no-serve"), env=_env(), capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming from its last checkpoint" in done.stdout + done.stderr
    with read_session(engine) as s:
        run = s.scalar(select(Run).where(Run.name == "demo"))
        assert run.status == "finished" and s.scalar(select(func.count()).select_from(Run)) == 1
        steps = s.scalars(select(Checkpoint.step).order_by(Checkpoint.step)).all()
        assert len(steps) >= 3 and steps[0] == 0
        assert s.scalar(select(func.count()).select_from(Metric).where(Metric.name == "loss")) >= 2
        assert s.scalar(select(func.count()).select_from(SegmentationRound)) == 1
        assert s.scalar(select(func.count()).select_from(Mask).where(Mask.sample_id.is_not(None))) == 64 * len(steps)
        assert s.scalar(select(Rater.is_admin).where(Rater.name == "admin")) is True
        assert s.scalar(select(func.count()).select_from(Captioner)) == 1  # the tiny captioner, every sample scored
        assert s.scalar(select(func.count()).select_from(Sample).where(Sample.caption_loss.is_(None))) == 0
        token = TOKEN.search(done.stdout).group(0)
        assert authenticate(s, token).name == "admin"

    again = subprocess.run(_demo(home, "--no-serve"), env=_env(), capture_output=True, text=True, timeout=WAIT_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already finished" in again.stdout + again.stderr and "round already exists" in again.stdout
    assert "reusing it" in again.stdout + again.stderr and "already have a caption loss" in again.stdout + again.stderr
    with read_session(engine) as s:
        assert s.scalars(select(Checkpoint.step).order_by(Checkpoint.step)).all() == steps
        new_token = TOKEN.search(again.stdout).group(0)
        assert new_token != token and authenticate(s, new_token).name == "admin"
    outcome = _outcome(engine)
    engine.dispose()
    return outcome


def test_quick_demo_serves_while_training_stops_resumes_and_is_the_same_in_two_homes(tmp_path, monkeypatch):
    served = _serve_and_rate_while_training(tmp_path, monkeypatch)
    resumed = _interrupt_resume_and_reuse(tmp_path)
    assert len(served["samples"]) == len(resumed["samples"]) >= 3 * 64
    differ = [(a[0], a[1]) for a, b in zip(served["samples"], resumed["samples"], strict=True) if a != b]
    assert not differ, f"{len(differ)} samples differ, first (step, prompt): {differ[:8]}"  # bit for bit
    assert served["masks"] == resumed["masks"] and served["queue"] == resumed["queue"]
    assert served["val_iou"] == resumed["val_iou"]
