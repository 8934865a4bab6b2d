"""`emojich captioner ...`: train the inverse (image → caption) model behind Caption Loss, list them."""
from __future__ import annotations

from pathlib import Path

import typer

captioner_app = typer.Typer(help="Caption Loss: the inverse image → caption model.", no_args_is_help=True)


@captioner_app.command("train")
def train(
    ctx: typer.Context,
    config: Path = typer.Option(Path("configs/captioner-tiny.toml"), "--config",
                                help="Captioner TOML (configs/captioner-tiny.toml, or configs/captioner.toml: Malevich)."),
    name: str = typer.Option(None, "--name", help="Captioner name (default <config name>-<UTC time>)."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a config key: --set train.steps=100"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="tqdm progress bars."),
) -> None:
    """Train on the dataset's image–caption pairs (validation split held out), save under the home, record it."""
    from training.captioner.config import load_captioner_config
    from training.captioner.train import train_captioner

    cfg = load_captioner_config(config, overrides or [])
    report = train_captioner(cfg, ctx.obj.home, ctx.obj.engine, name=name, progress=progress)
    typer.echo(report.summary())


@captioner_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every recorded captioner with its held-out check."""
    from db.captioners import list_captioners
    from db.engine import read_session

    with read_session(ctx.obj.engine) as s:
        rows = list_captioners(s)
        if not rows:
            typer.echo("no captioners yet: emojich captioner train")
            return
        for row in rows:
            held = ("no held-out check" if row.val_loss_own is None else
                    f"held out {row.val_pairs}: own {row.val_loss_own:.3f} vs other {row.val_loss_other:.3f}, "
                    f"own lower {row.val_share_lower:.0%}")
            typer.echo(f"{row.id}\t{row.name}\t{row.dataset}\t{row.steps} steps, {row.seconds:.0f} s\t{held}\t{row.path}")


def register(app: typer.Typer) -> None:
    app.add_typer(captioner_app, name="captioner")
