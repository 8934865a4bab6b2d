"""`emojich raters ...`: people who rate samples and fix masks, and their access tokens."""
from __future__ import annotations

import typer

raters_app = typer.Typer(help="Raters and their access tokens.", no_args_is_help=True)


@raters_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The rater's name (unique)."),
    admin: bool = typer.Option(False, "--admin", help="May choose the stopping checkpoint and see unblinded views."),
) -> None:
    """Add a rater and print their one-time access token (only its hash is stored)."""
    from db.engine import write_session
    from db.raters import add_rater

    with write_session(ctx.obj.engine) as session:
        rater, token = add_rater(session, name, is_admin=admin)
        role = "admin" if rater.is_admin else "rater"
    typer.echo(f"added {role} {name!r}. Access token (shown once, keep it safe):")
    typer.echo(token)


@raters_app.command("reset-token")
def reset(ctx: typer.Context, name: str = typer.Argument(..., help="The rater's name.")) -> None:
    """Replace a rater's token (the old one stops working) and print the new one."""
    from db.engine import write_session
    from db.raters import reset_token

    with write_session(ctx.obj.engine) as session:
        token = reset_token(session, name)
    typer.echo(f"new access token for {name!r} (shown once):")
    typer.echo(token)


@raters_app.command("list")
def list_(ctx: typer.Context) -> None:
    """List raters (never their tokens)."""
    from db.engine import read_session
    from db.raters import list_raters

    with read_session(ctx.obj.engine) as session:
        for rater in list_raters(session):
            typer.echo(f"{rater.id}\t{rater.name}\t{'admin' if rater.is_admin else 'rater'}")


def register(app: typer.Typer) -> None:
    app.add_typer(raters_app, name="raters")
