"""The bot's pure parts: sticker set names by Telegram's rules, caption checks, sticker files, error words."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from telegram.error import BadRequest, NetworkError

from db.errors import EmojichError
from workbench.bot import texts
from workbench.bot.captions import CaptionRefused, check_caption
from workbench.bot.stickers import preview, set_name, set_title, sticker_file
from workbench.bot.telegram_errors import kind_of
from workbench.bot.worker import SEED_LIMIT, job_seeds


def test_set_names_follow_telegrams_rules():
    assert set_name(123, "emojich_bot") == "emojich_123_by_emojich_bot"
    assert set_name(123, "emojich_bot", 2) == "emojich_123_2_by_emojich_bot"
    assert len(set_name(9_999_999_999, "a" * 29 + "bot", 120)) <= 64
    for bad in ("bad__bot", "x" * 60 + "bot"):
        with pytest.raises(EmojichError, match="cannot end a valid sticker set name"):
            set_name(123, bad)
    assert len(set_title("Очень " * 30, 3)) <= 64 and set_title(None) == "Эмодзи Emojich"


@pytest.mark.parametrize(("raw", "reply"), [
    (None, texts.EMPTY), (" \t\n ", texts.EMPTY), ("🦔🎩", texts.EMOJI_ONLY), ("?!… 🙂", texts.EMOJI_ONLY),
])
def test_captions_refused_with_one_reply(raw, reply):
    with pytest.raises(CaptionRefused) as refused:
        check_caption(raw)
    assert refused.value.reply == reply


def test_long_captions_are_cut_at_a_word():
    caption = check_caption("  ежик   в голубой\nшапке " * 100, limit=50)
    assert caption.truncated and caption.original_length == 2099 and len(caption.text) <= 50
    assert caption.text == "ежик в голубой шапке ежик в голубой шапке ежик в"  # cut at the last space
    assert check_caption("Кот 2 🙂").text == "Кот 2 🙂" and not check_caption("кот").truncated


def test_sticker_file_and_preview_from_a_small_cut_out():
    rgba = Image.new("RGBA", (32, 20), (0, 0, 0, 0))
    rgba.paste((200, 30, 30, 255), (4, 4, 28, 16))
    with Image.open(io.BytesIO(sticker_file(rgba))) as sticker:
        assert sticker.format == "PNG" and sticker.size[0] == 512 and sticker.size[1] < 512
        assert sticker.convert("RGBA").getchannel("A").getextrema() == (0, 255)
    with Image.open(io.BytesIO(preview(rgba))) as photo:
        assert photo.format == "JPEG" and photo.size == (384, 384)


def test_telegram_refusals_are_recognised():
    assert kind_of(BadRequest("STICKERS_TOO_MUCH")) == "set_full"
    assert kind_of(BadRequest("Sticker set name is already occupied")) == "name_taken"
    assert kind_of(BadRequest("file is too big")) == "too_large"
    assert kind_of(NetworkError("Request Entity Too Large (413)")) == "too_large"
    assert kind_of(BadRequest("STICKERSET_INVALID")) == "set_gone"
    assert kind_of(BadRequest("chat not found")) == "other"


def test_texts_and_seeds():
    assert texts.queued(2) == "в очереди: 2-й" and texts.drawing(0.4) == "рисую… 40 %"
    assert texts.done(1) == "готово: 1 вариант ниже" and texts.done(4) == "готово: 4 варианта ниже"
    assert texts.done(5) == "готово: 5 вариантов ниже" and "3 попытки" in texts.failed(3)
    assert job_seeds(2, 3) == [8192, 8193, 8194] and set(job_seeds(1, 4096)).isdisjoint(job_seeds(2, 4096))
    assert max(job_seeds(10**6, 4096)) < SEED_LIMIT
