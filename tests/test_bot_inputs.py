"""Bad input to the real bot (fake Bot API server): one reply in words each, and nothing breaks or is lost."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.engine import read_session, write_session
from db.jobs import claim_job, renew_lease
from db.models import GenerationJob, StickerPick
from tests.fake_telegram import BOT, FakeSet, FakeTelegram, FakeUser
from tests.fixtures_bot import running_bot, worker_thread

ANYA = FakeUser(1001, "Аня", "ru")
OTHER = FakeUser(3003, "Оля", "ru")


def _jobs(engine) -> list[GenerationJob]:
    with read_session(engine) as s:
        return list(s.scalars(select(GenerationJob).order_by(GenerationJob.id)))


async def _say(tg, user, text: str, replies: int = 1) -> list[str]:
    mark = len(tg.calls)
    await tg.send_text(user, text)
    return await tg.replies_to(user, mark, replies)


def test_bad_messages_get_one_line_each_and_long_captions_are_cut(bot_world):
    async def scenario():
        async with FakeTelegram() as tg, running_bot(bot_world.engine, tg):
            assert await _say(tg, ANYA, "   \n ") == ["Пустое сообщение: напишите словами, что нарисовать."]
            assert "только текст" in (await _say_photo(tg))[0]
            mark = len(tg.calls)
            await tg.send_voice(ANYA)
            assert "только текст" in (await tg.replies_to(ANYA, mark))[0]
            assert "Одни эмодзи" in (await _say(tg, ANYA, "🦔🎩 🙂!!"))[0]
            assert "недопустимый символ" in (await _say(tg, ANYA, "кот\x00в шапке"))[0]
            assert "Такой команды нет" in (await _say(tg, ANYA, "/draw"))[0]
            assert _jobs(bot_world.engine) == []  # none of these was queued
            cut, status = await _say(tg, ANYA, "ежик в голубой шапке " * 250, replies=2)  # 5,250 characters
            assert cut.startswith("Подпись длинная (5249 символов): рисую по первым") and status == "в очереди: 1-й"

    async def _say_photo(tg):
        mark = len(tg.calls)
        await tg.send_photo(ANYA, caption="кот")
        return await tg.replies_to(ANYA, mark)

    asyncio.run(scenario())
    (job,) = _jobs(bot_world.engine)
    assert len(job.prompt) <= 200 and job.prompt.startswith("ежик в голубой шапке ежик") and job.status == "queued"


def test_no_released_model_is_said(engine, one_torch_thread):
    async def scenario():
        async with FakeTelegram() as tg, running_bot(engine, tg):
            assert "Модель ещё не выбрана" in (await _say(tg, ANYA, "кот"))[0]

    asyncio.run(scenario())
    assert _jobs(engine) == []


def test_flooding_meets_the_rate_limit_and_the_queue_caps(bot_world):
    from db.jobs import Limits

    async def scenario():
        async with FakeTelegram() as tg, running_bot(bot_world.engine, tg, limits=Limits(2, 10, 10)):
            for caption in ("кот", "пес"):
                assert (await _say(tg, ANYA, caption))[0].startswith("в очереди")
            assert "не больше 2 запросов в минуту" in (await _say(tg, ANYA, "мышь"))[0]
        async with FakeTelegram() as tg, running_bot(bot_world.engine, tg, limits=Limits(10, 3, 10)):
            assert (await _say(tg, OTHER, "кит"))[0] == "в очереди: 3-й"
            assert (await _say(tg, ANYA, "сова"))[0] == "в очереди: 4-й"
            assert "уже 3 запроса в очереди" in (await _say(tg, ANYA, "лиса"))[0]
        async with FakeTelegram() as tg, running_bot(bot_world.engine, tg, limits=Limits(10, 10, 4)):
            assert "Очередь переполнена" in (await _say(tg, FakeUser(4004), "енот"))[0]

    asyncio.run(scenario())
    assert [j.prompt for j in _jobs(bot_world.engine)] == ["кот", "пес", "кит", "сова"]


def test_status_message_shows_progress_then_failure_in_place(bot_world):
    world = bot_world

    async def scenario():
        async with FakeTelegram() as tg, running_bot(world.engine, tg):
            mark = len(tg.calls)
            await tg.send_text(ANYA, "кот")
            status = await tg.wait_call("sendMessage", mark)
            message_id = str(status.result["message_id"])
            with write_session(world.engine) as s:  # a worker takes it and reports 40 %
                claim = claim_job(s, "w", 60)
                renew_lease(s, claim.job_id, claim.token, 60, progress=0.4)
            edit = await tg.wait_call("editMessageText", mark)
            assert edit.params["text"] == "рисую… 40 %" and edit.params["message_id"] == message_id
            with write_session(world.engine) as s:  # three failures later
                from db.jobs import fail_attempt

                job = s.get(GenerationJob, claim.job_id)
                job.attempts = 3
                fail_attempt(s, claim.job_id, claim.token, "RuntimeError: out of memory")
            failed = await tg.wait_call("editMessageText", mark, lambda c: "Не получилось" in c.params["text"])
            assert failed.params["message_id"] == message_id and "3 попытки" in failed.params["text"]

    asyncio.run(scenario())
    (job,) = _jobs(world.engine)
    assert job.status == "failed" and job.delivered_at is not None and "out of memory" in job.error


def test_telegram_refusals_are_said_and_the_pick_is_kept(bot_world):
    world = bot_world
    name = f"emojich_{ANYA.id}_by_{BOT['username']}"
    with write_session(world.engine) as s:  # a dataset caption that names an emoji: the sticker gets it
        from db.models import DatasetItem

        s.add(DatasetItem(dataset="noto-ru", file="1f639.png", caption="кот в очках", emoji="😹", source="noto",
                          license="OFL", split="train"))

    async def scenario():
        async with FakeTelegram() as tg, running_bot(world.engine, tg):
            mark = len(tg.calls)
            await tg.send_text(ANYA, "кот в очках")
            with worker_thread(world.engine, world.home):
                keyboard = await tg.wait_call("sendMessage", mark, lambda c: "reply_markup" in c.params)

            async def tap(button: int) -> str:
                mark = len(tg.calls)
                await tg.tap(ANYA, keyboard, button)
                return (await tg.replies_to(ANYA, mark))[0]

            tg.sticker_sets[name] = FakeSet(owner=999, title="someone else's", stickers=[])  # the name is taken
            assert f"Имя набора {name} уже занято" in await tap(0)
            del tg.sticker_sets[name]
            tg.max_sticker_bytes = 2_000  # a server that takes only tiny files
            assert "слишком большой" in await tap(0)
            tg.max_sticker_bytes = 512 * 1024
            assert "Создал ваш набор" in await tap(0)  # the same candidate, kept, goes in now
            assert [s["emoji"] for s in tg.sticker_sets[name].stickers] == ["😹"]
            tg.sticker_sets[name].stickers *= 120  # the set filled up elsewhere
            assert "Набор полон" in await tap(1)
            assert "№2" in (await _say(tg, ANYA, "/new"))[0]
            assert "Создал ваш набор" in await tap(1)

    asyncio.run(scenario())
    with read_session(world.engine) as s:
        picks = s.execute(select(StickerPick.status, StickerPick.error).order_by(StickerPick.id)).all()
    assert [p[0] for p in picks] == ["failed", "failed", "added", "failed", "added"]
    assert picks[0][1].startswith("name_taken") and picks[1][1].startswith("too_large")
    assert picks[3][1].startswith("set_full")
