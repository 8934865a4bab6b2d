"""Running the real bot against the fake Bot API server, and real workers beside it (registered in conftest.py).

- `running_bot(engine, telegram, settings)`: async context manager; the bot polls `telegram`
  (tests/fake_telegram.py) until the block ends.
- `worker_thread(engine, home, **settings)`: context manager; a real worker (tiny model, CPU) in a
  thread, stopped after its current job when the block ends; yields the list of lines it said.
- `bot_world` (per test): the per-test database with a released tiny checkpoint and its home.
- `WORKER_CMD` / `start_worker_process(...)`: `emojich worker` as a separate process.
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
def worker_thread(engine, home: Path, **settings):
    from workbench.bot.worker import Worker, WorkerSettings

    lines: list[str] = []
    stop = threading.Event()
    worker = Worker(engine, home, WorkerSettings(**{**FAST_WORKER, **settings}), name="thread-worker",
                    say=lines.append)
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
    released = release(engine, tiny_checkpoint_file)
    return BotWorld(engine, db_url, home, released.checkpoint_id)


def start_worker_process(db_url: str, home: Path, *args: str) -> subprocess.Popen:
    """`emojich worker` in its own process (output on its stdout, one line per job)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "EMOJICH_DB": db_url, "EMOJICH_HOME": str(home),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "workbench.cli", "worker", "--threads", "1", "--poll", "0.1", *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
