"""What a caption must be before it is queued: the same prompt checks as `emojich generate`, plus a length cap."""
from __future__ import annotations

from dataclasses import dataclass

from training.dalle.prompts import BadPrompt, EmptyPrompt, NoWords, check_prompt
from workbench.bot import texts

MAX_CAPTION_CHARS = 200  # the model reads far fewer tokens; the rest would only fill the database


@dataclass(frozen=True)
class Caption:
    text: str
    original_length: int

    @property
    def truncated(self) -> bool:
        return len(self.text) < self.original_length


class CaptionRefused(Exception):
    """The caption cannot be drawn; `reply` says why, in the bot's words."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space >= limit * 3 // 4 else head).rstrip()


def check_caption(raw: str | None, limit: int = MAX_CAPTION_CHARS) -> Caption:
    text = " ".join((raw or "").split())
    try:
        check_prompt(text)
        kept = _cut(text, limit)
        check_prompt(kept)
    except EmptyPrompt:
        raise CaptionRefused(texts.EMPTY) from None
    except NoWords:
        raise CaptionRefused(texts.EMOJI_ONLY) from None
    except BadPrompt as exc:
        raise CaptionRefused(texts.BAD_PROMPT.format(reason=_ru_reason(str(exc)))) from None
    return Caption(kept, len(text))


def _ru_reason(message: str) -> str:
    return "в ней есть недопустимый символ (NUL)" if "NUL" in message else message
