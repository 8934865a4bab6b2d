"""`emojich workbench`: serve the workbench (workbench/app/server.py: the Streamlit app and its login
cookie routes) against the configured database. Several of them on one PostgreSQL database behind a
load balancer share logins and throttling (README, "Scaling out")."""
from __future__ import annotations

import os
import sys

import typer


def workbench(
    ctx: typer.Context,
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
    db: str = typer.Option(None, "--db", help="SQLAlchemy URL (overrides the global --db / EMOJICH_DB)."),
    headless: bool = typer.Option(False, "--headless", help="Do not open a browser; print the URL only."),
    address: str = typer.Option("localhost", "--address", help="Interface to listen on."),
) -> None:
    """Serve the workbench: rating, comparison, dashboard, masks, stickers, dataset."""
    from db.migrate import display_url
    from workbench.cli.context import AppContext
    from workbench.cli.workbench_server import check_streamlit_credentials, server_env, streamlit_command

    context = AppContext(home=ctx.obj.home, db_url=db or ctx.obj.db_url)
    context.engine.dispose()  # fails with one clear line if the database is not migrated
    check_streamlit_credentials()
    env = server_env(context.home, context.db_url)
    command = streamlit_command(port, address, headless)

    typer.echo(f"workbench on http://{address}:{port} (database {display_url(context.db_url)}); Ctrl+C stops it",
               err=True)
    sys.stdout.flush()
    # Become the Streamlit server (no child left behind when this process is stopped).
    os.execve(sys.executable, command, env)


def register(app: typer.Typer) -> None:
    app.command("workbench")(workbench)
