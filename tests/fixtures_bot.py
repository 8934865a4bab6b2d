"""Running the real bot against the fake Bot API server, and real workers beside it (registered in conftest.py).

- `running_bot(engine, telegram, settings)`: async context manager; the bot polls `telegram`
  (tests/fake_telegram.py) until the block ends.
- `worker_thread(engine, home, **settings)`: context manager; a real worker (tiny model, CPU) in a
  thread, stopped after its current job when the block ends; yields the list of lines it said.
- `bot_world` (per test): the per-test database with a released tiny checkpoint, and a home folder.
- `start_worker_process(db_url, home, name, *args)`: `emojich worker` as a separate process, its output in
  files under the home (`WorkerProcess.said()`).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fake_telegram import TOKEN

REPO = Path(__file__).resolve().parents[1]
FAST_BOT = {"poll_s": 0.1, "long_poll_s": 1}
FAST_WORKER = {"candidates": 6, "show": 3, "batch_size": 8, "poll_s": 0.1, "lease_s": 30.0}


@contextlib.asynccontextmanager
async def running_bot(engine, telegram, **settings):
    from workbench.bot.app import BotSettings, EmojichBot

    bot = EmojichBot(engine, BotSettings(**{**FAST_BOT, **settings}))
    app = bot.application(TOKEN, telegram.base_url, telegram.base_file_url)
    stop = asyncio.Event()
    task = asyncio.create_task(bot.serve(app, stop))
    try:
        await telegram.wait_call("getMe", timeout=30)
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextlib.contextmanager
def worker_thread(engine, home: Path, name: str = "thread-worker", **settings):
    from workbench.bot.worker import Worker, WorkerSettings

    lines: list[str] = []
    stop = threading.Event()
    worker = Worker(engine, home, WorkerSettings(**{**FAST_WORKER, **settings}), name=name, say=lines.append)
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield lines
    finally:
        stop.set()
        thread.join(60)


@dataclass(frozen=True)
class BotWorld:
    engine: object
    db_url: str
    home: Path
    checkpoint_id: int


@pytest.fixture
def bot_world(engine, db_url, tmp_path, tiny_checkpoint_file, one_torch_thread) -> BotWorld:
    from tests.fixtures_generation import release

    home = tmp_path / "bot_home"
    home.mkdir()
    released = release(engine, tiny_checkpoint_file, home=home)
    return BotWorld(engine, db_url, home, released.checkpoint_id)


@dataclass
class WorkerProcess:
    """`emojich worker` in its own process; what it says goes to files (never a pipe that could fill up)."""

    proc: subprocess.Popen
    out: Path
    err: Path

    def said(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def complaints(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")


def start_worker_process(db_url: str, home: Path, name: str, *args: str) -> WorkerProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMOJICH_DB": db_url, "EMOJICH_HOME": str(home),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "workbench.cli", "worker", "--threads", "1", "--poll", "0.1", "--name", name, *args]
    out, err = home / f"worker-{name}.out", home / f"worker-{name}.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=stdout, stderr=stderr, text=True)
    return WorkerProcess(proc, out, err)
