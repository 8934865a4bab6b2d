"""`emojich stickers export`: a Telegram static sticker set from generated samples."""
from __future__ import annotations

from pathlib import Path

import typer

from db.errors import EmojichError

stickers_app = typer.Typer(help="Telegram sticker sets (512 px RGBA PNG/WebP).", no_args_is_help=True)


def _parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", ",").split(",") if part]
    except ValueError:
        raise EmojichError(f"--samples takes sample ids separated by commas, got {text!r}") from None
    if not ids:
        raise EmojichError("--samples needs at least one sample id")
    return ids


@stickers_app.command("export")
def export(
    ctx: typer.Context,
    checkpoint: int = typer.Option(None, "--checkpoint", help="Every sample of this checkpoint id."),
    samples: str = typer.Option(None, "--samples", help="Sample ids, comma-separated (e.g. 3,5,8)."),
    out: Path = typer.Option(..., "--out", help="A folder, or a FILE.zip."),
    fmt: str = typer.Option("png", "--format", help="png or webp."),
    device: str = typer.Option("cpu", "--device", help="Device for the U-Net and Real-ESRGAN (cpu, cuda, cuda:N)."),
    upscale: str = typer.Option(
        "auto", "--upscale",
        help="512 px from smaller samples: auto (Real-ESRGAN ×4 when <home>/models/rudalle/x4/RealESRGAN_x4.pth "
             "is there, else Lanczos), realesrgan, or lanczos.",
    ),
) -> None:
    """Segment samples (latest U-Net + contour fallback; a person's mask wins) and export stickers."""
    import torch

    from db.engine import read_session
    from db.samples import get_checkpoint, list_samples
    from training.stickers.export import export_stickers
    from training.stickers.resolution import UPSCALE_MODES
    from training.stickers.sticker import FORMATS

    if (checkpoint is None) == (samples is None):
        raise EmojichError("give exactly one of --checkpoint CKPT or --samples IDS")
    if fmt not in FORMATS:
        raise EmojichError(f"--format must be png or webp, got {fmt!r}")
    if upscale not in UPSCALE_MODES:
        raise EmojichError(f"--upscale must be one of {', '.join(UPSCALE_MODES)}, got {upscale!r}")
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise EmojichError(f"--device: unknown device {device!r} (cpu, cuda, cuda:N)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise EmojichError("--device: CUDA is not available on this machine")
    with read_session(ctx.obj.engine) as session:
        if checkpoint is not None:
            get_checkpoint(session, checkpoint)
            ids = [s.id for s in list_samples(session, checkpoint)]
            if not ids:
                raise EmojichError(f"checkpoint {checkpoint} has no samples")
        else:
            ids = _parse_ids(samples)
        report = export_stickers(session, ids, out, fmt, device=device, home=ctx.obj.home, upscale=upscale)
    for line in report.skipped:
        typer.echo(line, err=True)
    typer.echo(report.summary())


def register(app: typer.Typer) -> None:
    app.add_typer(stickers_app, name="stickers")
