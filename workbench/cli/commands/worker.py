"""`emojich worker`: draw the bot's generation jobs (one worker per GPU; any number of machines)."""
from __future__ import annotations

import typer


def _check_device(device: str) -> None:
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise typer.BadParameter(f"unknown device {device!r} (cpu, cuda, cuda:N)", param_hint="--device") from None
    if kind == "cuda":
        index = torch.device(device).index or 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise typer.BadParameter(f"{device} is not available on this machine", param_hint="--device")


def worker(
    ctx: typer.Context,
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N (one worker per GPU)."),
    candidates: int = typer.Option(32, "--candidates", min=1, help="Samples drawn per request (N)."),
    show: int = typer.Option(4, "--show", min=1, max=10, help="Best by perplexity decoded and sent (K)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Sampler batch."),
    lease: float = typer.Option(120.0, "--lease", help="Seconds a job stays this worker's without a heartbeat."),
    poll: float = typer.Option(1.0, "--poll", min=0.01, help="Seconds between looks at an empty queue."),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads."),
    once: bool = typer.Option(False, "--once", help="Exit when the queue is empty."),
    name: str = typer.Option(None, "--name", help="How this worker signs its jobs (default host:pid:device)."),
) -> None:
    """Claim generation jobs from the database, draw, rerank, segment and store the candidates."""
    import signal
    import threading

    import torch

    from workbench.bot.worker import Worker, WorkerSettings

    settings = WorkerSettings(device=device, candidates=candidates, show=show, batch_size=batch_size,
                              lease_s=lease, poll_s=poll)
    _check_device(device)
    if threads:
        torch.set_num_threads(threads)
    engine = ctx.obj.engine
    the_worker = Worker(engine, ctx.obj.home, settings, name=name, say=typer.echo)
    stop = threading.Event()

    def stop_after_this_job(signum, frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        typer.echo(f"worker {the_worker.name}: stopping after the current job (again to stop now)", err=True)

    signal.signal(signal.SIGTERM, stop_after_this_job)
    signal.signal(signal.SIGINT, stop_after_this_job)
    done = the_worker.run(stop, exit_when_idle=once)
    typer.echo(f"worker {the_worker.name}: stopped after {done} jobs")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
