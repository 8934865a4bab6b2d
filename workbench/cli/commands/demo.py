"""`emojich demo`: the whole loop at tiny size on CPU, then the workbench."""
from __future__ import annotations

import typer


def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the workbench at the end."),
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Workbench port."),
    quick: bool = typer.Option(False, "--quick", help="A much smaller loop (seconds, for tests)."),
    override: list[str] = typer.Option(
        [], "--set", help="Override a tiny.toml value, e.g. --set train.epochs=4 (repeatable)."
    ),
) -> None:
    """Build the dataset, train the tiny models, sample checkpoints, run U-Net round 1, then serve."""
    from workbench.cli.demo import DemoOptions, guide, quick_options, run_demo

    options = quick_options(overrides=tuple(override)) if quick else DemoOptions(overrides=tuple(override))
    result = run_demo(ctx.obj.home, ctx.obj.db_url, options)
    typer.echo(guide(result, port))
    if serve:
        from workbench.cli.commands.serve import workbench

        workbench(ctx, port=port, db=None, headless=True, address="localhost")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
