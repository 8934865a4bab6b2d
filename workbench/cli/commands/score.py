"""`emojich score --run RUN`: the caption loss of every sample of a run (idempotent, resumable)."""
from __future__ import annotations

import typer


def score(
    ctx: typer.Context,
    run: str = typer.Option(..., "--run", help="Run name or id."),
    rescore: bool = typer.Option(False, "--rescore", help="Clear the run's caption losses and score again."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Samples per batch (one transaction each)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bar."),
) -> None:
    """Score the samples without a caption loss with the newest captioner for the run's tokenizer and VAE."""
    from training.captioner.score import score_run
    from training.dalle.bundle import resolve_device

    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter(f"must be auto, cpu or cuda; got {device!r}", param_hint="--device")
    report = score_run(ctx.obj.home, ctx.obj.engine, run, device=resolve_device(device), batch_size=batch_size,
                       rescore=rescore, progress=progress)
    typer.echo(report.summary())


def register(app: typer.Typer) -> None:
    app.command("score")(score)
