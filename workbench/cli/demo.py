"""`emojich demo`: the whole loop at tiny size on CPU, with the workbench serving while the fine-tune trains.

The stages, in order (`demo_stages`), each with one header line, one live progress line and one line saying
what it did:

    database      migrate
    admin         create (or re-key) the admin rater; its token is printed with the guide
    dataset       the Noto/CLDR emoji dataset (64 px) ─┐
    tokenizer     BPE on its captions                   │ the tiny pipeline's own stages, in its order
    vae           the shipped tiny VAE (or train one)   │ (training/tiny/pipeline.py)
    workbench     start serving (not with --no-serve)   │ step 0's 64 samples are rateable seconds later
    fine-tune     tiny ruDALL-E, 64 samples per checkpoint; raters rate while it trains
    caption-loss  a tiny captioner (image → caption), then every sample's caption loss (Caption Loss)
    segmentation  U-Net round 1 (rounds.DEMO_ROUND), so the mask review queue has items

then the workbench keeps serving until Ctrl-C. Adding a stage is one `Stage(name, title, function)` in
`demo_stages`; the function gets the `Demo` (home, engine, config, options) and returns its one-line summary.

Every stage computes a fixed amount of work from fixed seeds on `train.threads` CPU threads: no wall-clock
budget anywhere, so every machine gets the same checkpoints, U-Net and review queue, only sooner or later.
Ctrl-C or SIGTERM at any point stops the training and the server cleanly (the run is marked interrupted);
the next `emojich demo` continues (finished stages are skipped, the run resumes from its last checkpoint).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
SERVER_READY_TIMEOUT_S = 180.0  # the fine-tune waits this long at most for the workbench to answer
QUICK_SEG_STEPS = 30  # --quick: U-Net round 1 at rounds.DEMO_ROUND, but this many steps


@dataclass(frozen=True)
class DemoOptions:
    quick: bool = False
    overrides: tuple[str, ...] = ()
    serve: bool = True
    port: int = 8501
    address: str = "localhost"
    seg_steps: int | None = None  # None: training.segmentation.rounds.DEMO_ROUND's fixed step count

    @property
    def config_name(self) -> str:
        return QUICK_CONFIG if self.quick else CONFIG


def quick_options(**kwargs) -> DemoOptions:
    return DemoOptions(quick=True, **{"seg_steps": QUICK_SEG_STEPS, **kwargs})


@dataclass
class Demo:
    """What the stages share."""

    home: Path
    db_url: str
    options: DemoOptions
    config: object = None  # training.config.Config, loaded by the database stage
    engine: Engine | None = None
    admin_token: str | None = None
    server: object = None  # workbench.cli.workbench_server.WorkbenchServer once serving
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage (this process and its children)
    serving_after_s: float | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    run: Callable[[Demo], str]


@dataclass(frozen=True)
class DemoResult:
    run_name: str
    checkpoints: int
    samples: int
    review_queue: int
    admin_token: str
    seconds: float
    serving_after_s: float | None
    timings: dict[str, float]


# ---------------------------------------------------------------- the stages


def _database(demo: Demo) -> str:
    from db.migrate import upgrade
    from training.config import load_config
    from training.tiny.pipeline import use_threads

    upgrade(demo.db_url)
    demo.engine = make_engine(demo.db_url)
    demo.config = load_config(demo.options.config_name, demo.options.overrides)
    use_threads(demo.config)  # every stage, the U-Net round too, computes on the config's fixed thread count
    return f"migrated; config {demo.config.name!r}, {demo.config.train.threads or 'default'} CPU thread(s)"


def _admin(demo: Demo) -> str:
    with write_session(demo.engine) as s:
        demo.admin_token = ensure_admin_token(s, ADMIN)
    return f"rater {ADMIN!r} (admin) has a new token, printed with the guide"


def _tiny(name: str) -> Callable[[Demo], str]:
    """One stage of the tiny pipeline (training/tiny/pipeline.py), run as the pipeline defines it."""

    def run(demo: Demo) -> str:
        from training.tiny.pipeline import tiny_stages

        stage = next(s for s in tiny_stages(demo.home, demo.engine, demo.config, name=DEMO_RUN) if s.name == name)
        path = Path(stage.run())
        if name == "dataset":
            from training.dataset.layout import read_metadata

            return f"{len(read_metadata(path)):,} emoji in {path}"
        return str(path)

    return run


def _fine_tune(demo: Demo) -> str:
    from training.tiny.pipeline import fine_tune

    with read_session(demo.engine) as s:
        run = get_run_by_name(s, DEMO_RUN)
        status = run.status if run else None
    if status == "finished":
        return f"run {DEMO_RUN!r} already finished: reusing its checkpoints"
    if status is not None:
        tqdm.write(f"run {DEMO_RUN!r} was {status}: resuming from its last checkpoint")
    info = fine_tune(demo.home, demo.engine, demo.config, name=DEMO_RUN, resume=DEMO_RUN if status else None)
    figure = _progress_figure(demo)
    return f"run {info.name!r}: {info.step} steps; samples across checkpoints drawn in {figure}"


def _progress_figure(demo: Demo) -> Path:
    from workbench.cli.progress_figure import save_progress_figure

    with read_session(demo.engine) as s:
        run_id = get_run_by_name(s, DEMO_RUN).id
    return save_progress_figure(demo.engine, run_id, demo.home / "demo" / "progress.png")


def _caption_loss(demo: Demo) -> str:
    from training.captioner.stage import caption_loss_stage

    trained, scored = caption_loss_stage(demo.home, demo.engine, DEMO_RUN, quick=demo.options.quick)
    return (f"captioner {trained.name!r} trained; " if trained else "captioner reused; ") + scored.summary()


def _segmentation(demo: Demo) -> str:
    from training.segmentation.rounds import DEMO_ROUND, run_round

    with read_session(demo.engine) as s:
        if count_segmentation_rounds(s):
            return "a U-Net round already exists: skipped (`emojich segment round` runs the next one)"
    settings = {**DEMO_ROUND, **({"steps": demo.options.seg_steps} if demo.options.seg_steps else {})}
    result = run_round(demo.engine, demo.home, **settings, progress=True)
    tqdm.write(result.summary())
    return f"round {result.round}: validation IoU {result.val_iou or 0:.3f}, {result.queued} masks queued for review"


def _serve(demo: Demo) -> str:
    from db.errors import EmojichError
    from workbench.cli.workbench_server import WorkbenchServer

    opts = demo.options
    demo.server = WorkbenchServer(demo.home, demo.db_url, opts.port, opts.address)
    demo.server.start()
    # The fine-tune waits for the server: on a busy machine the two would otherwise share the CPU and the
    # newcomer would wait longer for the page; step 0's samples land seconds after.
    if not demo.server.wait_ready(SERVER_READY_TIMEOUT_S):
        demo.server.stop()
        tail = demo.server.log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EmojichError(f"the workbench did not start ({tail[0]}); see {demo.server.log}")
    demo.serving_after_s = demo.elapsed()
    tqdm.write(guide(demo, serving=True))
    return f"serving at {demo.server.url} after {demo.serving_after_s / 60:.1f} min (log: {demo.server.log})"


def demo_stages(options: DemoOptions) -> list[Stage]:
    from training.tiny.pipeline import STAGES as TINY  # dataset, tokenizer, vae, fine-tune

    titles = {
        "dataset": "emoji dataset (Noto Color Emoji + CLDR Russian names)",
        "tokenizer": "BPE tokenizer on the captions",
        "vae": "tiny VAE (the image tokenizer)",
    }
    before_training = [Stage(name, titles[name], _tiny(name)) for name in TINY[:-1]]
    serving = [Stage("workbench", "serve the workbench while the fine-tune trains", _serve)] if options.serve else []
    return [
        Stage("database", "database", _database),
        Stage("admin", "admin rater", _admin),
        *before_training,
        *serving,
        Stage(TINY[-1], "tiny ruDALL-E fine-tune, 64 prompts sampled at step 0 and every checkpoint", _fine_tune),
        Stage("caption-loss", "caption loss: a tiny image → caption model, then every sample scored", _caption_loss),
        Stage("segmentation", "U-Net round 1 (small encoder) so the mask review queue has items", _segmentation),
    ]


# ---------------------------------------------------------------- running them


def run_demo(home: Path, db_url: str, options: DemoOptions = DemoOptions()) -> DemoResult:
    """Run every stage; when serving, keep serving until Ctrl-C / SIGTERM (KeyboardInterrupt) after the loop.
    A KeyboardInterrupt during the stages propagates (the run is marked interrupted) after the server stops."""
    from db.errors import EmojichError
    from db.migrate import display_url

    demo = Demo(Path(home), db_url, options)
    if options.serve:
        from workbench.cli.workbench_server import check_port_free

        check_port_free(options.address, options.port)
    stages = demo_stages(options)
    try:
        for number, stage in enumerate(stages, 1):
            title = f"{stage.title} {display_url(db_url)}" if stage.name == "database" else stage.title
            tqdm.write(f"\n[{number}/{len(stages)}] {title}")
            began, cpu = time.perf_counter(), _cpu_seconds()
            summary = stage.run(demo)
            demo.timings[stage.name] = round(time.perf_counter() - began, 1)
            demo.cpu[stage.name] = round(_cpu_seconds() - cpu, 1)
            tqdm.write(f"      {summary} ({_duration(demo.timings[stage.name])}, {demo.cpu[stage.name]:.0f} CPU-s)")
        result = _summary(demo)
        _save_timings(demo, result)
        tqdm.write(f"\nThe demo loop finished in {result.seconds / 60:.1f} min: run {result.run_name!r}, "
                   f"{result.checkpoints} checkpoints, {result.samples} samples, "
                   f"{result.review_queue} masks waiting for review.")
        if demo.server is None:
            tqdm.write(guide(demo, serving=False))
        else:
            tqdm.write(f"The workbench keeps serving at {demo.server.url}: Ctrl-C stops it.")
            try:
                code = demo.server.wait()
            except KeyboardInterrupt:
                tqdm.write("stopping the workbench")
            else:
                raise EmojichError(f"the workbench stopped by itself (exit {code}); see {demo.server.log}")
        return result
    finally:
        if demo.server is not None:
            demo.server.stop()
        if demo.engine is not None:
            demo.engine.dispose()


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children: what a stage costs whatever the load."""
    import resource

    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _summary(demo: Demo) -> DemoResult:
    with read_session(demo.engine) as s:
        counts = run_counts(s, get_run_by_name(s, DEMO_RUN).id)
    return DemoResult(DEMO_RUN, counts["checkpoints"], counts["samples"], counts["review_queue"], demo.admin_token,
                      demo.elapsed(), demo.serving_after_s, dict(demo.timings))


def _save_timings(demo: Demo, result: DemoResult) -> None:
    """<home>/demo/timings.json: seconds per stage, to serving and to the whole loop (README's figures)."""
    import os

    path = demo.home / "demo" / "timings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "config": demo.options.config_name, "stages_s": result.timings, "stages_cpu_s": demo.cpu,
        "serving_after_s": result.serving_after_s, "cpu_s": round(sum(demo.cpu.values()), 1),
        "loop_s": round(result.seconds, 1), "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }, indent=2) + "\n")


def guide(demo: Demo, serving: bool) -> str:
    where = demo.server.url if serving else f"http://localhost:{demo.options.port}"
    if serving:
        head = (f"The workbench is serving at {where} ({demo.elapsed() / 60:.1f} min after the start). The fine-tune "
                "goes on in the background: step 0's 64 samples are rateable in a few seconds, and each new\n"
                "checkpoint's samples appear in Rate, Grid, Compare and Checkpoints as it lands (no restart).")
    else:
        head = f"Serve it with `emojich workbench` (then open {where})."
    return f"""
{head}

Admin token (shown once; `emojich demo` prints a new one each time):

    {demo.admin_token}

Open {where} and paste the token, then:
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
