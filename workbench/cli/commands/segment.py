"""`emojich segment ...`: pseudo-labelling rounds of the U-Net, and segmenting a folder."""
from __future__ import annotations

from pathlib import Path

import typer

segment_app = typer.Typer(help="Emoji segmentation: U-Net rounds and folder inference.", no_args_is_help=True)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        if threads < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--threads")
        torch.set_num_threads(threads)


def _check_device(device: str) -> None:
    """A usable torch device, checked before any model is built (torch's own error is a traceback)."""
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise typer.BadParameter(f"unknown device {device!r} (cpu, cuda, cuda:N, …)", param_hint="--device") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise typer.BadParameter("CUDA is not available on this machine", param_hint="--device")


@segment_app.command("round")
def round_(
    ctx: typer.Context,
    encoder: str = typer.Option(
        "resnet18", "--encoder", help="Any smp encoder name (efficientnet-b7: the report's, for a GPU)."
    ),
    epochs: int = typer.Option(5, "--epochs", min=1, help="Passes over the training masks."),
    steps: int = typer.Option(None, "--steps", min=1, help="Train exactly this many batches (overrides --epochs)."),
    image_size: int = typer.Option(256, "--image-size", help="Training/inference side in px (multiple of 32)."),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    lr: float = typer.Option(3e-3, "--lr"),
    scratch: bool = typer.Option(False, "--scratch", help="Train from scratch, not from the previous round."),
    gate: str = typer.Option(
        "auto", "--gate",
        help="auto (measured), mean, object, agreement, or released (the report's switch: U-Net mask when mean≥0.99).",
    ),
    device: str = typer.Option("cpu", "--device"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads (1 is fastest on a busy CPU)."),
) -> None:
    """Train a round, pseudo-label confident samples, queue the rest for review."""
    from training.segmentation.model import builder_for
    from training.segmentation.rounds import run_round

    _set_threads(threads)
    _check_device(device)
    try:
        builder_for(encoder)
    except KeyError as exc:
        raise typer.BadParameter(exc.args[0], param_hint="--encoder") from None
    if image_size < 32 or image_size % 32:
        raise typer.BadParameter(f"must be a multiple of 32, at least 32; got {image_size}", param_hint="--image-size")
    if lr <= 0:
        raise typer.BadParameter(f"must be positive; got {lr}", param_hint="--lr")
    result = run_round(
        ctx.obj.engine,
        ctx.obj.home,
        encoder=encoder,
        image_size=image_size,
        epochs=epochs,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        from_previous=not scratch,
        gate_mode=gate,
        device=device,
        progress=True,
        on_note=lambda line: typer.echo(f"segment round: {line}", err=True),
    )
    typer.echo(result.summary())


@segment_app.command("predict")
def predict(
    ctx: typer.Context,
    input_dir: Path = typer.Option(..., "--input", help="Folder of images (RGB on white, or RGBA)."),
    output_dir: Path = typer.Option(..., "--output", help="Folder for NAME.png, NAME.mask.png, predictions.csv."),
    model: str = typer.Option("latest", "--model", help="A model file, or latest (the latest round's)."),
    device: str = typer.Option("cpu", "--device"),
    threads: int = typer.Option(None, "--threads", help="torch CPU threads."),
) -> None:
    """Segment every image in a folder; exit 2 when some files were rejected."""
    import sys

    from tqdm import tqdm

    from training.segmentation.latest import latest_model
    from training.segmentation.model import load_model
    from training.segmentation.predict import check_folders, predict_folder

    _set_threads(threads)
    _check_device(device)
    check_folders(input_dir, output_dir)  # before loading a model or saying which one is used
    if model == "latest":
        loaded = latest_model(ctx.obj.engine, ctx.obj.home, device)
        if loaded is None:
            typer.echo("no U-Net round yet: using the contour method for every image", err=True)
    else:
        loaded = load_model(Path(model), device)
    report = predict_folder(
        input_dir, output_dir, loaded, device=device, warn=lambda line: tqdm.write(line, file=sys.stderr), progress=True
    )
    by_method = {m: sum(1 for r in report.processed if r.method == m) for m in ("unet", "contour")}
    typer.echo(
        f"{len(report.processed)} segmented (unet {by_method['unet']}, contour {by_method['contour']}), "
        f"{len(report.rejected)} rejected; {report.csv_path}"
    )
    if report.rejected:
        sys.stdout.flush()
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(segment_app, name="segment")
