"""`emojich workbench`: serve the workbench (workbench/app/server.py: the Streamlit app and its login
cookie routes) against the configured database. Several of them on one PostgreSQL database behind a
load balancer share logins and throttling (README, "Scaling out")."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

# The app entry by path: importing workbench.app here would load it into every CLI process (bot, workers).
APP = Path(__file__).resolve().parents[2] / "app" / "server.py"


def workbench(
    ctx: typer.Context,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    db: str = typer.Option(None, "--db", help="SQLAlchemy URL (overrides the global --db / EMOJICH_DB)."),
    headless: bool = typer.Option(False, "--headless", help="Do not open a browser; print the URL only."),
    address: str = typer.Option("localhost", "--address", help="Interface to listen on."),
) -> None:
    """Serve the workbench: rating, comparison, dashboard, masks, stickers, dataset."""
    from workbench.cli.context import AppContext

    context = AppContext(home=ctx.obj.home, db_url=db or ctx.obj.db_url)
    context.engine.dispose()  # fails with one clear line if the database is not migrated
    _check_streamlit_credentials()
    env = {**os.environ, "EMOJICH_DB": context.db_url, "EMOJICH_HOME": str(context.home)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--server.showEmailPrompt", "false",  # never stop at Streamlit's first-run "Email:" prompt
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "minimal",
    ]
    from db.migrate import display_url

    typer.echo(f"workbench on http://{address}:{port} (database {display_url(context.db_url)}); Ctrl+C stops it",
               err=True)
    sys.stdout.flush()
    # Become the Streamlit server (no child left behind when this process is stopped).
    os.execve(sys.executable, command, env)


def _check_streamlit_credentials() -> None:
    """A broken ~/.streamlit/credentials.toml makes Streamlit ask for an email whatever the flags say."""
    import tomllib

    from db.errors import EmojichError

    path = Path.home() / ".streamlit" / "credentials.toml"
    if not path.exists():
        return
    try:
        email = tomllib.loads(path.read_text(encoding="utf-8")).get("general", {}).get("email")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        email = None
    if not isinstance(email, str):
        raise EmojichError(f"{path} is not a valid Streamlit credentials file (Streamlit would stop to ask for an "
                           "email); remove it and start again")


def register(app: typer.Typer) -> None:
    app.command("workbench")(workbench)
