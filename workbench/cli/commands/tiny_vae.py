"""`emojich tiny-vae`: train the tiny path's VAE exactly as the pipeline does, into a file.

This is how the VAE shipped in training/tiny/shipped/ is made (README, "What `make demo` does"):

    emojich tiny-vae --config tiny --out training/tiny/shipped/vae-tiny.pt

The same settings, dataset images and thread count give the same file bit for bit; `--check` says whether the
file just built is identical to the one the config ships.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import typer


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tiny_vae(
    ctx: typer.Context,
    config: str = typer.Option("tiny", "--config", help="A tiny config by name (tiny, smoke) or a TOML path."),
    out: Path = typer.Option(None, "--out", help="Where to write the VAE (default: the home's tiny model cache)."),
    check: bool = typer.Option(False, "--check", help="Compare the result with the config's shipped VAE."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a config key: --set vae.steps=100"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bars."),
) -> None:
    """Build the config's dataset if missing, train its VAE (fixed steps, seed and threads), write it."""
    from db.errors import EmojichError
    from training.config import load_config
    from training.tiny.model import tiny_files
    from training.tiny.pipeline import ensure_dataset, make_vae_file
    from training.tiny.vae import SHIPPED_DIR, read_trained_with

    cfg = load_config(config, overrides or [])
    if cfg.model.source != "tiny":
        raise EmojichError(f"config {cfg.name!r} is not a tiny config (model.source = {cfg.model.source!r})")
    shipped = SHIPPED_DIR / cfg.vae.shipped if cfg.vae.shipped else None
    if check and (shipped is None or not shipped.is_file()):
        raise EmojichError(f"config {cfg.name!r} ships no VAE to compare with (vae.shipped is {cfg.vae.shipped!r})")
    target = out or tiny_files(cfg, ctx.obj.home)[0]
    ensure_dataset(ctx.obj.home, ctx.obj.engine, cfg, progress=progress)
    report = make_vae_file(ctx.obj.home, cfg, target, progress=progress)
    digest = _sha256(target)
    typer.echo(f"{target}: {target.stat().st_size / 1e6:.2f} MB, sha256 {digest}; {cfg.vae.steps} steps in "
               f"{report['seconds']:.0f} s, held-in L1 {report['l1']:.3f}, {report['codes_used']} codes used")
    if check:
        if digest == _sha256(shipped):
            typer.echo(f"identical to the shipped {shipped}")
            return
        recorded = read_trained_with(shipped).get("images_sha256")
        same_data = "the same" if recorded == report["images_sha256"] else "different"
        raise EmojichError(f"differs from the shipped {shipped} ({same_data} dataset images; "
                           "a different torch build or CPU can also change the last bits)")


def register(app: typer.Typer) -> None:
    app.command("tiny-vae")(tiny_vae)
