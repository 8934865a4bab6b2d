"""`emojich bot --token-file FILE`: the Telegram bot (no model; workers draw, see `emojich worker`)."""
from __future__ import annotations

import re
import stat
from pathlib import Path

import typer

from db.errors import EmojichError

TOKEN_SHAPE = re.compile(r"\d{3,20}:[A-Za-z0-9_-]{30,100}")


def read_token(path: Path) -> str:
    """The bot token from its file (never from the command line, where `ps` would show it)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EmojichError(f"token file {path} not found (put the token @BotFather gave you in it)")
    token = path.read_text(encoding="utf-8", errors="replace").strip()
    if not TOKEN_SHAPE.fullmatch(token):
        raise EmojichError(f"token file {path} does not hold a bot token (one line like 123456789:AAE…, "
                           "as @BotFather gives it)")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        typer.echo(f"warning: token file {path} is readable by other users; chmod 600 it", err=True)
    return token


def bot(
    ctx: typer.Context,
    token_file: Path = typer.Option(..., "--token-file", help="File holding the bot token from @BotFather."),
    api_url: str = typer.Option(None, "--api-url", help="Bot API server (default Telegram's; e.g. a local "
                                "telegram-bot-api server, http://127.0.0.1:8081)."),
    per_minute: int = typer.Option(3, "--per-minute", min=1, help="Requests one user may make per minute."),
    pending: int = typer.Option(2, "--pending", min=1, help="A user's requests waiting at once."),
    queue_cap: int = typer.Option(200, "--queue-cap", min=1, help="Requests waiting in all."),
    verbose: bool = typer.Option(False, "--verbose", help="Debug logging (the token stays masked)."),
) -> None:
    """Serve the Telegram bot: captions become generation jobs, workers draw them, taps fill sticker sets."""
    token = read_token(token_file)  # before anything slow: a bad file is one line at once
    engine = ctx.obj.engine

    import asyncio
    import logging
    import signal

    from db.jobs import Limits
    from workbench.bot import logs
    from workbench.bot.app import BotSettings, EmojichBot

    logs.configure(token, logging.DEBUG if verbose else logging.INFO)
    base = api_url.rstrip("/") if api_url else None
    emojich = EmojichBot(engine, BotSettings(limits=Limits(per_minute, pending, queue_cap)))
    app = emojich.application(token, f"{base}/bot" if base else None, f"{base}/file/bot" if base else None)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await emojich.serve(app, stop)

    try:
        asyncio.run(main())
    except Exception as exc:  # telegram's errors (a revoked token, no network) as one line, token masked
        from telegram.error import TelegramError

        if isinstance(exc, TelegramError):
            raise EmojichError(f"Telegram: {str(exc).replace(token, logs.MASK)}") from None
        raise
    typer.echo("bot stopped")


def register(app: typer.Typer) -> None:
    app.command("bot")(bot)
