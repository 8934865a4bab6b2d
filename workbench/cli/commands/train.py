"""`emojich train`: fine-tune ruDALL-E (the recipe or the tiny CPU path), or resume a run."""
from __future__ import annotations

import typer


def train(
    ctx: typer.Context,
    config: str = typer.Option(
        "tiny", "--config", help="A shipped config by name (tiny, emojich, smoke) or a TOML file's path."
    ),
    resume: str = typer.Option(None, "--resume", help="Continue this run (name or id) from its last checkpoint."),
    name: str = typer.Option(None, "--name", help="Run name (default <config name>-<UTC time>)."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a config key: --set train.epochs=2"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bars."),
) -> None:
    """Train with a config; a tiny config first builds its dataset, tokenizer and VAE when missing."""
    from db.errors import EmojichError
    from training.config import load_config
    from training.dalle.train import train as run_training

    engine = ctx.obj.engine
    home = ctx.obj.home
    if resume:
        if overrides or name:
            raise EmojichError("--resume continues a run with its stored config: drop --set and --name")
        info = run_training(None, home, engine, resume=resume, progress=progress)
    else:
        cfg = load_config(config, overrides or [])
        if cfg.model.source == "tiny":
            from training.tiny.pipeline import train_tiny

            info = train_tiny(home, engine, cfg, name=name, progress=progress)
        else:
            info = run_training(cfg, home, engine, name=name, progress=progress)
    typer.echo(f"run {info.name} (id {info.run_id}): step {info.step} of {info.total_steps}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
