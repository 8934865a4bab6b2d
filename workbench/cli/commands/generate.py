"""`emojich generate`: candidates for one prompt from a checkpoint, ranked by perplexity or caption loss."""
from __future__ import annotations

from pathlib import Path

import typer


def _engine_for_file(ctx: typer.Context):
    """The database for a checkpoint given as a file: used when it exists and is migrated, else None
    (the images then only go to --out)."""
    from sqlalchemy.engine import make_url

    from db.errors import EmojichError

    url = make_url(ctx.obj.db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
        return None
    try:
        return ctx.obj.engine
    except EmojichError:
        return None


def generate(
    ctx: typer.Context,
    checkpoint: str = typer.Option(..., "--checkpoint", help="Checkpoint id (from the DB) or file path."),
    prompt: str = typer.Option(..., "--prompt", help="Russian caption (Latin letters accepted)."),
    n: int = typer.Option(16, "-n", min=1, max=4096, help="Candidates to sample (seeds seed .. seed+n-1)."),
    keep: int = typer.Option(None, "--keep", min=1, help="Decode and keep only the K lowest-perplexity candidates "
                             "(default: all n)."),
    rerank: str = typer.Option("perplexity", "--rerank", help="Order candidates by the sampler's perplexity or "
                               "by caption loss (the newest captioner for this checkpoint's tokenizer and VAE)."),
    top_k: int = typer.Option(2048, "--top-k", min=0),
    top_p: float = typer.Option(0.995, "--top-p", min=1e-6, max=1.0),
    temperature: float = typer.Option(1.0, "--temperature", min=1e-3),
    seed: int = typer.Option(42, "--seed", min=0, max=2**31 - 4097),
    batch_size: int = typer.Option(16, "--batch-size", min=1),
    out: Path = typer.Option(None, "--out", help="Also write the kept images to this folder as PNG files."),
    size: int = typer.Option(None, "--size", min=1, max=4096, help="Output size; 512 decodes with rudalle's DWT VAE."),
) -> None:
    """Sample `-n` candidates for `--prompt`, keep the `--keep` best (by perplexity, or `--rerank caption` by
    caption loss) and store them as samples
    of the checkpoint (prompt set free-text); `--out` also writes them as files named by rank, seed and
    perplexity."""
    import warnings

    from training.dalle.generate import RERANKS, generate_samples
    from training.dalle.prompts import PromptTruncated, check_prompt

    check_prompt(prompt)  # fail before loading any model
    if rerank not in RERANKS:
        raise typer.BadParameter(f"must be {' or '.join(RERANKS)}, got {rerank!r}", param_hint="--rerank")
    if keep is not None and keep > n:
        raise typer.BadParameter(f"must be at most -n ({n}), got {keep}", param_hint="--keep")
    engine = _engine_for_file(ctx) if Path(checkpoint).expanduser().is_file() else ctx.obj.engine
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PromptTruncated)
        report = generate_samples(
            ctx.obj.home, engine, checkpoint, prompt, n=n, keep=keep, top_k=top_k, top_p=top_p,
            temperature=temperature, seed=seed, batch_size=batch_size, out=out, size=size, rerank=rerank,
        )
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PromptTruncated)):
        typer.echo(f"warning: {message}", err=True)
    typer.echo(report.summary(out))


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
