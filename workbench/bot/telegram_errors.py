"""Telegram's refusals of sticker calls, told in words (the pick is kept; the user can tap again)."""
from __future__ import annotations

from telegram.error import TelegramError

from workbench.bot import texts
from workbench.bot.stickers import SET_LIMIT

# Bot API descriptions (and python-telegram-bot's wording for HTTP 413) → what happened
_KINDS = (
    ("set_full", ("stickers_too_much", "too many stickers", "stickerset is full", "sticker set is full")),
    ("name_taken", ("already occupied", "name_occupied", "stickerset_name_occupied")),
    ("too_large", ("too big", "too large", "entity too large", "file_too_big", "file is too big")),
    ("set_gone", ("stickerset_invalid", "sticker set not found", "stickerset_not_found")),
)


def kind_of(exc: TelegramError) -> str:
    message = str(exc).lower()
    for kind, needles in _KINDS:
        if any(n in message for n in needles):
            return kind
    return "other"


def explain(exc: TelegramError, set_name: str) -> tuple[str, str]:
    """(kind, reply): set_full | name_taken | too_large | set_gone | other."""
    kind = kind_of(exc)
    reply = {
        "set_full": texts.set_full(SET_LIMIT),
        "name_taken": texts.name_taken(set_name),
        "too_large": texts.TOO_LARGE,
        "set_gone": texts.SET_GONE,
    }.get(kind) or texts.telegram_error(" ".join(str(exc).split())[:200])
    return kind, reply
