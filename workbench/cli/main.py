"""`emojich`: the command-line interface (typer).

Each module in `workbench/cli/commands/` exposes `register(app)` and adds its commands or
sub-apps; this file only assembles them and turns named errors into one line on stderr.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys

import click
import typer

from db.errors import EmojichError
from workbench.cli import commands
from workbench.cli.context import AppContext

app = typer.Typer(
    name="emojich",
    help="Emojich Workbench: fine-tune ruDALL-E into an emoji generator and curate what it makes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", envvar="EMOJICH_HOME", help="Home folder (default ./var)."),
    db: str = typer.Option(
        None, "--db", envvar="EMOJICH_DB", help="SQLAlchemy URL (default sqlite:///<home>/emojich.db)."
    ),
) -> None:
    ctx.obj = AppContext.from_options(home=home, db=db)


for _info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
    importlib.import_module(f"{commands.__name__}.{_info.name}").register(app)


INTERRUPTED = "interrupted: stopped cleanly; run the same command again to continue"
INTERRUPTED_EXIT = 130


def _one_line(message: str) -> str:
    return " ".join(str(message).split()) or "unknown error"


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are one line on stderr with a non-zero exit, never a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        result = app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_EXIT
    except EmojichError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: database: {_one_line(getattr(exc, 'orig', None) or exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if result == INTERRUPTED_EXIT:  # typer returns 130 for a KeyboardInterrupt (Ctrl-C, or the demo's SIGTERM)
        print(INTERRUPTED, file=sys.stderr)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
