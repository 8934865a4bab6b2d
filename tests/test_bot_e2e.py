"""The real bot against the fake Bot API server, with a real worker (tiny model on CPU): a caption in, an
album out, a tap creates the user's sticker set, a second tap adds to it, /set, /undo and /new."""
from __future__ import annotations

import asyncio
import io

from PIL import Image
from sqlalchemy import select

from db.engine import read_session
from db.models import GenerationJob, JobCandidate, Mask, Prompt, PromptSet, Sample, StickerPick
from tests.fake_telegram import BOT, FakeTelegram, FakeUser
from tests.fixtures_bot import running_bot, worker_thread

ANYA = FakeUser(1001, "Аня", "ru")
BOB = FakeUser(2002, "Bob", "en")


def _assert_static_sticker(data: bytes) -> None:
    assert len(data) <= 512 * 1024
    with Image.open(io.BytesIO(data)) as image:
        assert image.format in ("PNG", "WEBP")
        assert max(image.size) == 512 and min(image.size) <= 512
        rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    assert alpha.getextrema()[0] == 0  # transparent somewhere (the margin at least)
    assert alpha.getextrema()[1] == 255  # and an opaque emoji


def test_caption_album_tap_create_then_add(bot_world):
    world = bot_world
    name = f"emojich_{ANYA.id}_by_{BOT['username']}"

    async def scenario():
        async with FakeTelegram() as tg, running_bot(world.engine, tg):
            await tg.send_text(ANYA, "/start")
            await tg.send_text(BOB, "/start")
            start_ru, start_en = await tg.replies_to(ANYA, 0), await tg.replies_to(BOB, 0)
            assert start_ru[0].startswith("Привет!") and "I draw emoji" not in start_ru[0]
            assert "I draw emoji stickers from Russian captions" in start_en[0]

            mark = len(tg.calls)
            await tg.send_text(ANYA, "ежик в голубой шапке")
            await tg.send_text(BOB, "кот в очках")
            anya_status = await tg.wait_call("sendMessage", mark, lambda c: c.params["chat_id"] == str(ANYA.id))
            bob_status = await tg.wait_call("sendMessage", mark, lambda c: c.params["chat_id"] == str(BOB.id))
            assert anya_status.params["text"] == "в очереди: 1-й"
            assert bob_status.params["text"] == "в очереди: 2-й"

            mark = len(tg.calls)
            with worker_thread(world.engine, world.home) as said:
                album = await tg.wait_call("sendMediaGroup", mark, lambda c: c.params["chat_id"] == str(ANYA.id))
                keyboard = await tg.wait_call("sendMessage", mark,
                                              lambda c: c.params["chat_id"] == str(ANYA.id) and "reply_markup" in c.params)
                await tg.wait_call("sendMediaGroup", mark, lambda c: c.params["chat_id"] == str(BOB.id))
            jobs_said = [line for line in said if line.startswith("job ")]
            assert len(jobs_said) == 2 and all(": done in" in line for line in jobs_said), said
            media = album.json("media")
            assert [m["caption"] for m in media] == ["1", "2", "3"]
            for m in media:  # previews: the cut-out on a checkerboard, as photos
                with Image.open(io.BytesIO(album.attached(m["media"]))) as photo:
                    assert photo.format == "JPEG" and photo.size == (384, 384)
            buttons = keyboard.json("reply_markup")["inline_keyboard"][0]
            assert [b["text"] for b in buttons] == ["1", "2", "3"]
            # every status update edited the one status message, ending in "готово"
            edits = [c for c in tg.calls[mark:] if c.method == "editMessageText"
                     and c.params["chat_id"] == str(ANYA.id)]
            assert edits and {c.params["message_id"] for c in edits} == {str(anya_status.result["message_id"])}
            assert edits[-1].params["text"] == "готово: 3 варианта ниже"
            assert not [c for c in tg.calls[mark:] if c.method == "sendMessage" and c.params["chat_id"] == str(ANYA.id)
                        and ("рисую" in c.params["text"] or "в очереди" in c.params["text"])]

            mark = len(tg.calls)
            await tg.tap(ANYA, keyboard, 0)
            created = await tg.wait_call("createNewStickerSet", mark)
            reply = (await tg.replies_to(ANYA, mark))[0]
            assert created.params["name"] == name and created.params["user_id"] == str(ANYA.id)
            (sticker,) = created.json("stickers")
            assert sticker["format"] == "static" and sticker["emoji_list"] == ["🙂"]
            _assert_static_sticker(created.attached(sticker["sticker"]))
            assert f"https://t.me/addstickers/{name}" in reply and "Создал" in reply

            mark = len(tg.calls)
            await tg.tap(ANYA, keyboard, 2)
            added = await tg.wait_call("addStickerToSet", mark)
            assert added.params["name"] == name
            _assert_static_sticker(added.attached(added.json("sticker")["sticker"]))
            assert "стикеров: 2" in (await tg.replies_to(ANYA, mark))[0]
            assert len(tg.sticker_sets[name].stickers) == 2

            mark = len(tg.calls)  # the same candidate again, and someone else's candidate
            await tg.tap(ANYA, keyboard, 2)
            await tg.tap(BOB, keyboard, 1)
            answers = [await tg.wait_call("answerCallbackQuery", mark),
                       await tg.wait_call("answerCallbackQuery", mark, lambda c: "другого" in c.params.get("text", ""))]
            assert "уже в вашем наборе" in answers[0].params["text"]

            mark = len(tg.calls)
            await tg.send_text(ANYA, "/set")
            assert "стикеров: 2" in (await tg.replies_to(ANYA, mark))[0]
            mark = len(tg.calls)
            await tg.send_text(ANYA, "/undo")
            deleted = await tg.wait_call("deleteStickerFromSet", mark)
            assert "осталось 1" in (await tg.replies_to(ANYA, mark))[0]
            assert deleted.params["sticker"] not in [s["file_id"] for s in tg.sticker_sets[name].stickers]
            assert len(tg.sticker_sets[name].stickers) == 1

            mark = len(tg.calls)
            await tg.send_text(ANYA, "/new")
            assert "№2" in (await tg.replies_to(ANYA, mark))[0]
            mark = len(tg.calls)
            await tg.tap(ANYA, keyboard, 1)
            second = await tg.wait_call("createNewStickerSet", mark)
            assert second.params["name"] == f"emojich_{ANYA.id}_2_by_{BOT['username']}"

    asyncio.run(scenario())
    with read_session(world.engine) as s:
        jobs = s.scalars(select(GenerationJob).order_by(GenerationJob.id)).all()
        assert [(j.status, j.attempts, j.sampled) for j in jobs] == [("done", 1, 6), ("done", 1, 6)]
        assert all(j.delivered_at is not None for j in jobs)
        # the candidates are samples of the released checkpoint, in the free-text prompt set, with masks
        rows = s.execute(select(Sample.checkpoint_id, Prompt.text, PromptSet.name, Sample.perplexity)
                         .join(Prompt, Prompt.id == Sample.prompt_id).join(PromptSet, PromptSet.id == Prompt.set_id)).all()
        assert len(rows) == 6 and {r[0] for r in rows} == {world.checkpoint_id}
        assert {r[1] for r in rows} == {"ежик в голубой шапке", "кот в очках"} and {r[2] for r in rows} == {"free-text"}
        assert s.query(Mask).count() == 6 and s.query(JobCandidate).count() == 6
        picks = s.scalars(select(StickerPick.status).order_by(StickerPick.id)).all()
        assert picks == ["added", "removed", "added"]
