"""`emojich demo`: the whole loop at tiny size on CPU, serving the workbench while the fine-tune trains."""
from __future__ import annotations

import typer


def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the workbench while the fine-tune trains."),
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Workbench port."),
    address: str = typer.Option("localhost", "--address", help="Interface the workbench listens on."),
    quick: bool = typer.Option(False, "--quick", help="A much smaller loop (configs/smoke.toml: seconds, for tests)."),
    override: list[str] = typer.Option(
        [], "--set", help="Override a tiny.toml value, e.g. --set train.epochs=4 (repeatable)."
    ),
) -> None:
    """Dataset, tokenizer, VAE, then serve the workbench while the tiny fine-tune trains; then U-Net round 1."""
    from workbench.cli.demo import DemoOptions, quick_options, run_demo

    settings = {"overrides": tuple(override), "serve": serve, "port": port, "address": address}
    options = quick_options(**settings) if quick else DemoOptions(**settings)
    run_demo(ctx.obj.home, ctx.obj.db_url, options)  # SIGTERM stops it as Ctrl-C does (workbench/cli/main.py)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
