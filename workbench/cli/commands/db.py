"""`emojich db ...`: schema migrations."""
from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the database schema to the latest revision."""
    from db.engine import make_engine
    from db.migrate import current_revision, display_url
    from db.migrate import upgrade as run_upgrade

    run_upgrade(ctx.obj.db_url, revision)
    engine = make_engine(ctx.obj.db_url)
    typer.echo(f"database {display_url(ctx.obj.db_url)} at revision {current_revision(engine)}")
    engine.dispose()


@db_app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the database's current revision."""
    from db.engine import make_engine
    from db.migrate import current_revision, head_revision

    engine = make_engine(ctx.obj.db_url)
    typer.echo(f"current: {current_revision(engine)} (head: {head_revision()})")
    engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
