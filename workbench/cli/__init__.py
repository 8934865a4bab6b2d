"""The `emojich` command line: the typer app (main.py), one module per command group (commands/), the demo."""
from workbench.cli.main import app, main

__all__ = ["app", "main"]
