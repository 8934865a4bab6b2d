"""A contact sheet of stickers on a checkerboard, so transparency is visible at a glance."""
from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

CELL = 160
PAD = 8
SQUARE = 10
LIGHT, DARK = (255, 255, 255, 255), (204, 204, 204, 255)


def checkerboard(width: int, height: int, square: int = SQUARE) -> Image.Image:
    board = Image.new("RGBA", (width, height), LIGHT)
    dark = Image.new("RGBA", (square, square), DARK)
    for y in range(0, height, square):
        for x in range((y // square) % 2 * square, width, 2 * square):
            board.paste(dark, (x, y))
    return board


def contact_sheet(stickers: Sequence[Image.Image], cell: int = CELL, columns: int | None = None) -> Image.Image:
    if not stickers:
        raise ValueError("no stickers for a contact sheet")
    columns = columns or min(8, math.ceil(math.sqrt(len(stickers))))
    rows = math.ceil(len(stickers) / columns)
    sheet = checkerboard(columns * (cell + PAD) + PAD, rows * (cell + PAD) + PAD)
    for i, sticker in enumerate(stickers):
        thumb = sticker.convert("RGBA")
        thumb.thumbnail((cell, cell), Image.LANCZOS)
        x = PAD + (i % columns) * (cell + PAD) + (cell - thumb.width) // 2
        y = PAD + (i // columns) * (cell + PAD) + (cell - thumb.height) // 2
        sheet.alpha_composite(thumb, (x, y))
    return sheet
