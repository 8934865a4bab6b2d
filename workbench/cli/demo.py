"""`emojich demo`: the whole loop at tiny size on CPU, each stage reusing what is already done.

1. migrate the database;
2. build the Noto/CLDR emoji dataset (small images) and index it;
3. train the tiny tokenizer and VAE, then fine-tune a tiny ruDALL-E with the Emojich recipe, sampling
   the 64 evaluation prompts at several checkpoints into the database;
4. run U-Net round 1 with a small encoder, so the mask review queue has items;
5. create (or re-key) the admin rater and print its token;
6. serve the workbench, with a short guide of what to do there.

Ctrl-C at any point stops cleanly; the next `emojich demo` continues (the run resumes from its last
checkpoint, finished stages are skipped).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from tqdm.auto import tqdm

from db.engine import make_engine, read_session, write_session
from db.raters import ensure_admin_token
from db.runs import get_run_by_name, run_counts
from db.segmentation import count_segmentation_rounds

DEMO_RUN = "demo"
ADMIN = "admin"
CONFIG = "tiny"  # the shipped configs/tiny.toml

QUICK_CONFIG = "smoke"  # --quick: the same stages at seconds scale (configs/smoke.toml)
QUICK_SEGMENTATION = {"seg_steps": 30}


@dataclass(frozen=True)
class DemoOptions:
    quick: bool = False
    overrides: tuple[str, ...] = ()
    seg_steps: int | None = None  # None: training.segmentation.rounds.DEMO_ROUND's fixed step count


@dataclass(frozen=True)
class DemoResult:
    run_name: str
    checkpoints: int
    samples: int
    review_queue: int
    admin_token: str
    seconds: float


def _stage(n: int, text: str) -> None:
    tqdm.write(f"\n[{n}/6] {text}")


def quick_options(**kwargs) -> DemoOptions:
    return DemoOptions(quick=True, **{**QUICK_SEGMENTATION, **kwargs})


def run_demo(home: Path, db_url: str, options: DemoOptions = DemoOptions()) -> DemoResult:
    from db.migrate import display_url, upgrade
    from training.captioner.stage import caption_loss_stage
    from training.config import load_config
    from training.tiny.pipeline import ensure_dataset

    started = time.perf_counter()
    _stage(1, f"database {display_url(db_url)}")
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        config = load_config(QUICK_CONFIG if options.quick else CONFIG, options.overrides)

        _stage(2, f"emoji dataset {config.data.dataset!r} (Noto Color Emoji + CLDR Russian names)")
        ensure_dataset(home, engine, config)

        _stage(3, "tiny tokenizer and VAE, then the tiny ruDALL-E fine-tune with 64 prompts per checkpoint")
        _train_or_resume(home, engine, config)

        figure = _progress_figure(home, engine)
        tqdm.write(f"samples across checkpoints: {figure}")
        caption_loss_stage(home, engine, DEMO_RUN, quick=options.quick)

        _stage(4, "U-Net round 1 (small encoder) so the mask review queue has items")
        _segmentation_round(home, engine, options)

        _stage(5, "admin rater")
        token = _admin_token(engine)
        result = _summary(engine, token, time.perf_counter() - started)
    finally:
        engine.dispose()
    return result


def _train_or_resume(home: Path, engine: Engine, config) -> None:
    from training.tiny.pipeline import train_tiny

    with read_session(engine) as s:
        run = get_run_by_name(s, DEMO_RUN)
        status = run.status if run else None
    if status == "finished":
        tqdm.write(f"run {DEMO_RUN!r} already finished: reusing its checkpoints")
        return
    if status is not None:
        tqdm.write(f"run {DEMO_RUN!r} was {status}: resuming from its last checkpoint")
    train_tiny(home, engine, config, name=DEMO_RUN, resume=DEMO_RUN if status is not None else None)


def _progress_figure(home: Path, engine: Engine) -> Path:
    from workbench.cli.progress_figure import save_progress_figure

    with read_session(engine) as s:
        run_id = get_run_by_name(s, DEMO_RUN).id
    return save_progress_figure(engine, run_id, home / "demo" / "progress.png")


def _segmentation_round(home: Path, engine: Engine, options: DemoOptions) -> None:
    from training.segmentation.rounds import DEMO_ROUND, run_round

    with read_session(engine) as s:
        rounds = count_segmentation_rounds(s)
    if rounds:
        tqdm.write("a U-Net round already exists: skipping (run `emojich segment round` for the next one)")
        return
    settings = {**DEMO_ROUND, **({"steps": options.seg_steps} if options.seg_steps else {})}
    result = run_round(engine, home, **settings, progress=True)
    tqdm.write(str(getattr(result, "summary", lambda: result)()))


def _admin_token(engine: Engine) -> str:
    with write_session(engine) as s:
        return ensure_admin_token(s, ADMIN)


def _summary(engine: Engine, token: str, seconds: float) -> DemoResult:
    with read_session(engine) as s:
        counts = run_counts(s, get_run_by_name(s, DEMO_RUN).id)
    return DemoResult(DEMO_RUN, counts["checkpoints"], counts["samples"], counts["review_queue"], token, seconds)


def guide(result: DemoResult, port: int) -> str:
    return f"""
Emojich demo ready in {result.seconds / 60:.1f} min: run {result.run_name!r}, {result.checkpoints} checkpoints,
{result.samples} samples, {result.review_queue} masks waiting for review.

Admin token (shown once; `emojich demo` prints a new one each time):

    {result.admin_token}

Open http://localhost:{port} and paste the token, then:
  1. Rate      score images blind, 1-5 on generality, emoji style and quality: type three
               digits (the third saves and shows the next image); S skips, B goes back, U undoes;
  2. Compare   the same prompt from two checkpoints: left / right / tie (keys ← → T);
  3. Checkpoints  coverage and the recommended stopping checkpoint (held back until the
               overlap set is rated), scores against iteration; mark the one to ship with a reason;
  4. Masks     fix the U-Net's hard cases (click a region to add/remove it, brush; A accepts);
  5. Stickers  export a Telegram-ready RGBA set.
Add raters with `emojich raters add NAME`: they see the blind pages only. The tiny model learns colours and shapes, not the
report's quality: see README for running the real recipe on a GPU.
"""
