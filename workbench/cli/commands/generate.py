"""`emojich generate`: images for one prompt from a checkpoint, with the training loop's sampler."""
from __future__ import annotations

from pathlib import Path

import typer


def generate(
    ctx: typer.Context,
    checkpoint: str = typer.Option(..., "--checkpoint", help="Checkpoint id (from the DB) or file path."),
    prompt: str = typer.Option(..., "--prompt", help="Russian caption (Latin letters accepted)."),
    n: int = typer.Option(16, "-n", min=1, max=4096, help="Number of images (seeds seed .. seed+n-1)."),
    top_k: int = typer.Option(2048, "--top-k", min=0),
    top_p: float = typer.Option(0.995, "--top-p", min=1e-6, max=1.0),
    temperature: float = typer.Option(1.0, "--temperature", min=1e-3),
    seed: int = typer.Option(42, "--seed", min=0),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    out: Path = typer.Option(..., "--out", help="Folder for the PNG files."),
    size: int = typer.Option(None, "--size", min=1, max=4096, help="Output size; 512 decodes with rudalle's DWT VAE."),
) -> None:
    """Generate `-n` images for `--prompt`; file names carry the seed and the self-rerank perplexity."""
    import warnings

    from training.dalle.generate import generate_to_folder
    from training.dalle.prompts import PromptTruncated, check_prompt

    check_prompt(prompt)  # fail before loading any model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromptTruncated)
        written = generate_to_folder(
            ctx.obj.home, ctx.obj.engine if not Path(checkpoint).is_file() else None, checkpoint, prompt,
            n=n, top_k=top_k, top_p=top_p, temperature=temperature, seed=seed, batch_size=batch_size,
            out=out, size=size,
        )
    for w in caught:
        if issubclass(w.category, PromptTruncated):
            typer.echo(f"warning: {w.message}", err=True)
    typer.echo(f"wrote {len(written)} images to {out}")


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
