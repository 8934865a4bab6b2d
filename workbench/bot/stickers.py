"""Telegram's side of stickers: set names and titles, the file a sticker is uploaded as, album previews."""
from __future__ import annotations

import io
import re

from PIL import Image

from db.errors import EmojichError
from training.stickers.contact_sheet import checkerboard
from training.stickers.sticker import encode, make_sticker

SET_LIMIT = 120  # Telegram: a static sticker set holds at most 120 stickers
DEFAULT_EMOJI = "🙂"
PREVIEW_SIDE = 384
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def set_name(user_id: int, bot_username: str, ordinal: int = 1) -> str:
    """`emojich_<user id>_by_<bot username>` (then `emojich_<user id>_<n>_by_…` for /new), checked against
    Telegram's rules: English letters, digits and underscores, a letter first, no double underscore,
    ending in `_by_<bot username>`, at most 64 characters."""
    if user_id <= 0 or ordinal < 1:
        raise EmojichError(f"no sticker set name for user {user_id}, set {ordinal}")
    stem = f"emojich_{user_id}" if ordinal == 1 else f"emojich_{user_id}_{ordinal}"
    name = f"{stem}_by_{bot_username}"
    if not _NAME.fullmatch(name) or "__" in name:
        raise EmojichError(f"the bot's username {bot_username!r} cannot end a valid sticker set name ({name})")
    return name


def set_title(first_name: str | None, ordinal: int = 1) -> str:
    who = " ".join((first_name or "").split())[:30]
    title = f"Эмодзи Emojich{' · ' + who if who else ''}{f' №{ordinal}' if ordinal > 1 else ''}"
    return title[:64]


def set_link(name: str) -> str:
    return f"https://t.me/addstickers/{name}"


def sticker_file(rgba: Image.Image) -> bytes:
    """PNG with transparency, one side exactly 512 px, the other at most 512, at most 512 KB."""
    return encode(make_sticker(rgba), "png").data


def preview(rgba: Image.Image, side: int = PREVIEW_SIDE) -> bytes:
    """The sticker on a checkerboard (Telegram photos drop transparency), as a JPEG for the album."""
    sticker = make_sticker(rgba)
    sticker.thumbnail((side, side), Image.LANCZOS)
    board = checkerboard(side, side, square=side // 16)
    board.alpha_composite(sticker, ((side - sticker.width) // 2, (side - sticker.height) // 2))
    out = io.BytesIO()
    board.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()
