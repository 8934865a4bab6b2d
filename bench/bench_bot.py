"""The Telegram bot's speed: seconds from caption to album, and requests per minute one worker sustains.

    .venv/bin/python bench/bench_bot.py                          # tiny model (configs/tiny.toml geometry), CPU
    .venv/bin/python bench/bench_bot.py --home var               # the demo's trained model and U-Net
    python bench/bench_bot.py --size full --device cuda:0        # Malevich geometry, random init, on a GPU
    .venv/bin/python bench/bench_bot.py --home var --shot docs/bot_conversation.png   # also draw the chat

The real bot (python-telegram-bot) talks to the tests' fake Bot API server on 127.0.0.1 and one real
worker draws in this process, with `emojich worker`'s defaults (32 candidates, the best 4 shown).
`--home` works on a copy of that home's database, choosing its latest checkpoint if none was chosen;
without it a temporary home gets a random-init model of configs/tiny.toml's geometry (speed does not
depend on the weights). `--size full` puts a random-init Malevich-size model and Sber VAE behind the
worker, sampling at the recipe's settings (configs/emojich.toml: top-k 2048, top-p 0.995).
Latency: one caption at a time into an empty queue (median of `--latency-runs`). Throughput:
`--requests` captions from as many users at once, until the last album is sent.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from db.engine import make_engine, read_session, write_session  # noqa: E402
from db.jobs import Limits  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from tests.fake_telegram import TOKEN, FakeTelegram, FakeUser  # noqa: E402
from workbench.bot.app import BotSettings, EmojichBot  # noqa: E402
from workbench.bot.worker import Worker, WorkerSettings  # noqa: E402

CAPTIONS = ["ежик в голубой шапке", "кот в очках", "улыбается", "флаг япония", "сердце", "пицца", "снеговик",
            "дом на дереве"]


def tiny_home(home: Path) -> Path:
    """A random-init model of configs/tiny.toml's geometry, its tokenizer (trained on the CLDR captions) and
    an untrained VAE of the same shape, as a checkpoint file the worker loads like any other."""
    from training.config import config_to_dict, load_config, replace
    from training.dalle.checkpoint import save_atomic
    from training.dataset.captions import cldr_short_names, clean_cldr_name
    from training.tiny.model import load_tiny
    from training.tiny.tokenizer import train_tokenizer
    from training.tiny.vae import build_vae, vae_config

    models = home / "models" / "tiny"
    models.mkdir(parents=True, exist_ok=True)
    config = load_config("tiny")
    config = replace(config, model={"cache_dir": str(models)})
    train_tokenizer(sorted({clean_cldr_name(n) for n in cldr_short_names().values()}), models / "bpe.model",
                    config.tokenizer.vocab_size)
    cfg = vae_config(config.vae, config.model.image_vocab_size)
    torch.save({"config": cfg, "state_dict": build_vae(cfg).state_dict()}, models / "vae.pt")
    bundle = load_tiny(config, home, torch.device("cpu"))
    weights = {n: p.detach().clone() for n, p in bundle.model.named_parameters()}
    path = home / "checkpoints" / "bench" / "step_0.pt"
    save_atomic({"step": 0, "epoch": 0.0, "model": weights, "config": config_to_dict(config)}, path)
    return path


def release(engine, path: Path | None) -> None:
    """Register `path` as a chosen checkpoint; with None, choose the latest checkpoint unless one is chosen."""
    from db.decisions import add_decision
    from db.jobs import released_checkpoint
    from db.models import Checkpoint
    from db.raters import add_rater
    from db.runs import add_run

    with write_session(engine) as s:
        if path is None and released_checkpoint(s) is not None:
            return
        if path is not None:
            run = add_run(s, f"bench-{time.time_ns()}", {"kind": "bench"})
            checkpoint = Checkpoint(run_id=run.id, step=0, epoch=0.0, path=str(path))
            s.add(checkpoint)
            s.flush()
        else:
            from sqlalchemy import select

            checkpoint = s.scalar(select(Checkpoint).where(Checkpoint.path.is_not(None))
                                  .order_by(Checkpoint.created_at.desc(), Checkpoint.id.desc()).limit(1))
            if checkpoint is None:
                raise SystemExit("that home has no checkpoint: run `emojich demo --no-serve` first")
        rater, _ = add_rater(s, f"bench-admin-{time.time_ns()}", is_admin=True)
        add_decision(s, rater.id, checkpoint.id, "bench_bot.py")


def full_size_worker(worker: Worker, engine, device: torch.device) -> None:
    """Put a random-init Malevich-size model behind the worker (no weights needed: speed does not depend on them)."""
    from bench.dalle_models import build_model, build_vae
    from db.jobs import released_checkpoint
    from training.config import load_config
    from training.dalle.bundle import ModelBundle
    from training.tiny.tokenizer import load_tokenizer

    with read_session(engine) as s:
        path = released_checkpoint(s).path
    config = load_config("emojich")
    tokenizer = load_tokenizer(Path(path).parents[2] / "models" / "tiny" / "bpe.model")  # ids fit any vocabulary
    model, _ = build_model("full", device, hf_version=config.model.hf_version)
    bundle = ModelBundle(model.eval(), tokenizer, build_vae("full", device), config, device)
    worker._bundle = (path, bundle)  # the worker's model cache, filled by hand


async def converse(engine, worker: Worker, shot: Path | None, latency_runs: int, requests: int) -> dict:
    bot = EmojichBot(engine, BotSettings(limits=Limits(10_000, 10_000, 10_000), poll_s=0.05, long_poll_s=1))
    stop_worker, ready = threading.Event(), threading.Event()
    worker.say = lambda line: ready.set() if "waiting for jobs" in line else None
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop_worker}, daemon=True)
    async with FakeTelegram() as tg:
        app = bot.application(TOKEN, tg.base_url, tg.base_file_url)
        stop_bot = asyncio.Event()
        serving = asyncio.create_task(bot.serve(app, stop_bot))
        await tg.wait_call("getMe")
        thread.start()
        while not ready.is_set():  # the worker has its models loaded: latency is the answer's, not the start-up's
            await asyncio.sleep(0.05)
        anya = FakeUser(1001, "Аня", "ru")
        mark = len(tg.calls)
        await tg.send_text(anya, "/start")
        await tg.replies_to(anya, mark)
        latencies = []
        for run in range(latency_runs):
            user = anya if run == 0 else FakeUser(5000 + run)
            mark = len(tg.calls)
            started = time.perf_counter()
            await tg.send_text(user, CAPTIONS[run % len(CAPTIONS)])
            await tg.wait_call("sendMediaGroup", mark, timeout=600)
            keyboard = await tg.wait_call("sendMessage", mark, lambda c: "reply_markup" in c.params, timeout=60)
            latencies.append(time.perf_counter() - started)
            if run == 0:
                await tg.tap(anya, keyboard, 0)
                await tg.wait_call("createNewStickerSet", mark)
                await tg.replies_to(anya, tg.calls.index(keyboard) + 1)
                conversation = (list(tg.calls), list(tg.pushed))
        mark = len(tg.calls)
        started = time.perf_counter()
        for i in range(requests):
            await tg.send_text(FakeUser(10_000 + i), CAPTIONS[i % len(CAPTIONS)])
        for i in range(requests):
            await tg.wait_call("sendMediaGroup", mark, lambda c, i=i: c.params["chat_id"] == str(10_000 + i),
                               timeout=3600)
        burst_s = time.perf_counter() - started
        stop_bot.set()
        await serving
    stop_worker.set()
    thread.join()
    if shot is not None:
        from bench.chat_render import render_conversation

        render_conversation(conversation[0], anya.id, shot, conversation[1])
    return {"caption_to_album_s_median": round(statistics.median(latencies), 2),
            "caption_to_album_s_min": round(min(latencies), 2), "caption_to_album_s_max": round(max(latencies), 2),
            "burst_requests": requests, "burst_s": round(burst_s, 1),
            "requests_per_minute": round(requests / burst_s * 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="Use this home's checkpoints and U-Net (its database is copied).")
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--show", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--shot", type=Path, help="Draw the first user's conversation to this PNG.")
    args = parser.parse_args()
    if args.size == "full" and args.home:
        parser.error("--size full brings its own random-init model: leave out --home")
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    try:
        if args.home:
            home = args.home.resolve()
            shutil.copy(home / "emojich.db", work / "emojich.db")
            engine = make_engine(f"sqlite:///{work / 'emojich.db'}")
            release(engine, None)
        else:
            home = work
            upgrade(f"sqlite:///{work / 'emojich.db'}")
            engine = make_engine(f"sqlite:///{work / 'emojich.db'}")
            release(engine, tiny_home(work))
        settings = WorkerSettings(device=args.device, candidates=args.candidates, show=args.show,
                                  batch_size=args.batch_size, poll_s=0.05)
        worker = Worker(engine, home, settings, name="bench", say=lambda line: None)
        if args.size == "full":
            full_size_worker(worker, engine, torch.device(args.device))
        figures = asyncio.run(converse(engine, worker, args.shot, args.latency_runs, args.requests))
        print(json.dumps({"size": args.size, "device": args.device, "candidates": args.candidates, "show": args.show,
                          "home": str(args.home) if args.home else "random-init tiny", **figures}), flush=True)
        engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
