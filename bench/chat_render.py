"""Draw a fake-server conversation (tests/fake_telegram.py) as a chat screenshot with Pillow.

The user's messages on the right, the bot's on the left: texts (a status message that was edited in place
shows its final text and the edits it went through), the album's photos, inline buttons, taps.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, MARGIN, PAD, GAP = 720, 16, 12, 10
BUBBLE_MAX = 470
BACKGROUND, BOT_BUBBLE, USER_BUBBLE = (207, 224, 236), (255, 255, 255), (225, 250, 205)
TEXT, GREY, BUTTON = (20, 20, 20), (110, 120, 130), (235, 242, 248)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def _wrap(text: str, font, width: int) -> list[str]:
    lines = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(" "), ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if font.getlength(candidate) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


class _Canvas:
    def __init__(self) -> None:
        self.parts: list[tuple[Image.Image, str]] = []  # (block, side)

    def text(self, text: str, side: str, note: str = "", buttons: list[str] | None = None) -> None:
        font, small = _font(18), _font(13)
        lines = _wrap(text, font, BUBBLE_MAX - 2 * PAD)
        notes = _wrap(note, small, BUBBLE_MAX - 2 * PAD) if note else []
        width = max([font.getlength(line) for line in lines] + [small.getlength(n) for n in notes] + [60])
        height = 24 * len(lines) + 17 * len(notes) + 2 * PAD + (6 if notes else 0)
        block_w = int(width) + 2 * PAD
        button_h = 40 if buttons else 0
        block = Image.new("RGBA", (max(block_w, 60 * len(buttons or [])), height + button_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(block)
        draw.rounded_rectangle((0, 0, block_w - 1, height - 1), 14, fill=USER_BUBBLE if side == "right" else BOT_BUBBLE)
        y = PAD
        for line in lines:
            draw.text((PAD, y), line, font=font, fill=TEXT)
            y += 24
        y += 6 if notes else 0
        for n in notes:
            draw.text((PAD, y), n, font=small, fill=GREY)
            y += 17
        if buttons:
            each = (block.width - 6 * (len(buttons) - 1)) // len(buttons)
            for i, label in enumerate(buttons):
                x = i * (each + 6)
                draw.rounded_rectangle((x, height + 6, x + each, height + 36), 8, fill=BUTTON)
                draw.text((x + each / 2, height + 21), label, font=font, fill=(40, 90, 140), anchor="mm")
        self.parts.append((block, side))

    def album(self, photos: list[bytes]) -> None:
        cell, columns = 200, 2
        rows = (len(photos) + columns - 1) // columns
        block = Image.new("RGBA", (columns * cell + (columns + 1) * 4, rows * cell + (rows + 1) * 4), (0, 0, 0, 0))
        draw = ImageDraw.Draw(block)
        draw.rounded_rectangle((0, 0, block.width - 1, block.height - 1), 14, fill=BOT_BUBBLE)
        for i, data in enumerate(photos):
            photo = Image.open(io.BytesIO(data)).convert("RGB").resize((cell, cell), Image.LANCZOS)
            x, y = 4 + (i % columns) * (cell + 4), 4 + (i // columns) * (cell + 4)
            block.paste(photo, (x, y))
            draw.rounded_rectangle((x + 6, y + 6, x + 30, y + 30), 6, fill=(0, 0, 0, 150))
            draw.text((x + 18, y + 18), str(i + 1), font=_font(15), fill=(255, 255, 255), anchor="mm")
        self.parts.append((block, "left"))

    def event(self, text: str) -> None:
        font = _font(14)
        block = Image.new("RGBA", (int(font.getlength(text)) + 24, 26), (0, 0, 0, 0))
        draw = ImageDraw.Draw(block)
        draw.rounded_rectangle((0, 0, block.width - 1, 25), 12, fill=(160, 180, 196))
        draw.text((12, 13), text, font=font, fill=(255, 255, 255), anchor="lm")
        self.parts.append((block, "center"))

    def image(self) -> Image.Image:
        height = MARGIN * 2 + sum(p.height for p, _ in self.parts) + GAP * (len(self.parts) - 1)
        out = Image.new("RGBA", (WIDTH, height), BACKGROUND)
        y = MARGIN
        for block, side in self.parts:
            x = {"left": MARGIN, "right": WIDTH - MARGIN - block.width, "center": (WIDTH - block.width) // 2}[side]
            out.alpha_composite(block, (x, y))
            y += block.height + GAP
        return out.convert("RGB")


def render_conversation(calls, user_id: int, path: Path, pushed=None) -> Path:
    """`calls`: the fake server's recorded calls; `pushed`: its (index, update) list of what users did."""
    chat = str(user_id)
    events: list[tuple[int, int, str, object]] = []  # (call index, order, kind, payload)
    for index, update in pushed or []:
        if "message" in update and update["message"]["chat"]["id"] == user_id:
            events.append((index, 0, "user", update["message"].get("text", "")))
        elif "callback_query" in update and update["callback_query"]["from"]["id"] == user_id:
            markup = update["callback_query"]["message"].get("reply_markup", {})
            labels = {b["callback_data"]: b["text"] for row in markup.get("inline_keyboard", []) for b in row}
            events.append((index, 0, "tap", labels.get(update["callback_query"]["data"], "?")))
    edits: dict[str, list[str]] = {}
    for call in calls:
        if call.method == "editMessageText" and call.params.get("chat_id") == chat and not call.error:
            edits.setdefault(call.params["message_id"], []).append(call.params["text"])
    for i, call in enumerate(calls):
        if call.params.get("chat_id") != chat or call.error:
            continue
        if call.method == "sendMessage":
            events.append((i, 1, "bot", call))
        elif call.method == "sendMediaGroup":
            events.append((i, 1, "album", [call.attached(m["media"]) for m in call.json("media")]))
    canvas = _Canvas()
    for _, _, kind, payload in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "user":
            canvas.text(payload, "right")
        elif kind == "tap":
            canvas.event(f"нажата кнопка «{payload}»")
        elif kind == "album":
            canvas.album(payload)
        else:
            text = payload.params["text"]
            history = edits.get(str(payload.result["message_id"]), [])
            note = "правки на месте: " + " → ".join([text, *history]) if history else ""
            markup = payload.json("reply_markup") if "reply_markup" in payload.params else None
            buttons = [b["text"] for row in markup["inline_keyboard"] for b in row] if markup else None
            canvas.text(history[-1] if history else text, "left", note, buttons)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.image().save(path, optimize=True)
    return path
