"""`emojich`: the command-line interface (typer).

Each module in `workbench/cli/commands/` exposes `register(app)` and adds its commands or
sub-apps; this file only assembles them and turns named errors into one line on stderr.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import signal
import sys
import threading

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


INTERRUPTED_EXIT = 130


def _one_line(message: str) -> str:
    return " ".join(str(message).split()) or "unknown error"


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, systemd, Kubernetes, torchrun's agent): every job stops as for Ctrl-C."""


_STOPPED_BY: list[str] = []  # the signal that stopped the running command (typer reports only "exit 130")


def _on_sigint(signum, frame) -> None:
    _STOPPED_BY.append("Ctrl-C")
    raise KeyboardInterrupt()


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough: let the job record how it stopped
    _STOPPED_BY.append("SIGTERM")
    raise Terminated()


def _rank_prefix() -> str:
    """Under torchrun every rank prints; the others' lines say which rank they come from."""
    rank = os.environ.get("RANK", "0")
    return "" if rank == "0" or os.environ.get("WORLD_SIZE", "1") == "1" else f"rank {rank}: "


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are one line on stderr with a non-zero exit, never a traceback.

    While a command runs, SIGTERM raises `Terminated` (a KeyboardInterrupt) so every long job stops
    the way Ctrl-C stops it: the run marked interrupted, nothing half-written, exit 143."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        return _run(argv)
    _STOPPED_BY.clear()
    previous = {sig: signal.signal(sig, handler) for sig, handler in
                ((signal.SIGTERM, _on_sigterm), (signal.SIGINT, _on_sigint))}
    try:
        return _run(argv)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def _run(argv: list[str] | None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    prefix = _rank_prefix()
    try:
        result = app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        print(f"{prefix}error: aborted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (Terminated) while the command runs
        result = INTERRUPTED_EXIT
    except EmojichError as exc:
        if not getattr(exc, "quiet", False):  # quiet: another process (rank 0) has already said it
            print(f"{prefix}error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"{prefix}error: database: {_one_line(getattr(exc, 'orig', None) or exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prefix}error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if result == INTERRUPTED_EXIT:  # typer also returns 130 for a KeyboardInterrupt it caught
        how = _STOPPED_BY[0] if _STOPPED_BY else "Ctrl-C"
        print(f"{prefix}interrupted ({how}): stopped cleanly; run the same command again to continue "
              "(a training run: emojich train --resume RUN)", file=sys.stderr)
        return 143 if how == "SIGTERM" else INTERRUPTED_EXIT
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
