"""The Telegram bot (python-telegram-bot, asyncio). It never loads a model.

A caption becomes a `generation_jobs` row (db/jobs.py) and a status message ("в очереди: 2-й"); a
delivery loop watches the bot's open jobs and edits that message in place ("рисую… 40 %") while a
worker draws, then sends one album of the candidates as sticker previews on a checkerboard and a
row of numbered buttons. A tap adds that candidate to the user's static sticker set
(createNewStickerSet the first time, addStickerToSet after) and answers with the set's link.
Database calls run in threads (`asyncio.to_thread`), so a slow write never stalls the updates.
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, InputSticker, Update
from telegram.constants import StickerFormat
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from db import jobs as jobs_db
from db import sticker_sets as sets_db
from db.engine import read_session, write_session
from db.images import get_png
from db.jobs import JobView, Limits, NoReleasedModel, RequestRefused
from training.dataset.captions import normalize_caption
from workbench.bot import texts
from workbench.bot.captions import MAX_CAPTION_CHARS, CaptionRefused, check_caption
from workbench.bot.stickers import (
    DEFAULT_EMOJI,
    SET_LIMIT,
    preview,
    set_link,
    set_name,
    set_title,
    sticker_file,
)
from workbench.bot.telegram_errors import explain

log = logging.getLogger("emojich.bot")

DELIVERY_TRIES = 3  # album sends that Telegram refused before the user is told in words


@dataclass(frozen=True)
class BotSettings:
    limits: Limits = Limits()
    poll_s: float = 0.5  # how often the delivery loop looks at the open jobs
    long_poll_s: int = 10  # getUpdates timeout
    progress_edit_s: float = 1.0  # at most one "рисую… N %" edit per job this often (Telegram's flood limits)
    max_caption_chars: int = MAX_CAPTION_CHARS


@dataclass(frozen=True)
class PickPlan:
    outcome: str  # go | gone | not_yours | already | full
    set_id: int | None = None
    set_name: str = ""
    title: str = ""
    create: bool = False
    prompt: str = ""
    rgba_sha256: str = ""


def _png_image(session, sha256: str) -> Image.Image:
    image = Image.open(io.BytesIO(get_png(session, sha256)))
    image.load()
    return image


class EmojichBot:
    def __init__(self, engine, settings: BotSettings = BotSettings()) -> None:
        self.engine, self.settings = engine, settings
        self._shown: dict[int, str] = {}  # job id → the status text last shown
        self._delivery_failures: dict[int, int] = {}
        self._edited_at: dict[int, float] = {}  # job id → time.monotonic() of its last progress edit

    # database calls, off the event loop
    async def _read(self, fn: Callable, *args):
        def call():
            with read_session(self.engine) as s:
                return fn(s, *args)

        return await asyncio.to_thread(call)

    async def _write(self, fn: Callable, *args, **kwargs):
        def call():
            with write_session(self.engine) as s:
                return fn(s, *args, **kwargs)

        return await asyncio.to_thread(call)

    def application(self, token: str, base_url: str | None = None, base_file_url: str | None = None) -> Application:
        builder = Application.builder().token(token)
        if base_url:
            builder = builder.base_url(base_url)
        if base_file_url:
            builder = builder.base_file_url(base_file_url)
        app = builder.build()
        private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        app.add_handler(CommandHandler("start", self.on_start, filters=private))
        app.add_handler(CommandHandler("set", self.on_set, filters=private))
        app.add_handler(CommandHandler("undo", self.on_undo, filters=private))
        app.add_handler(CommandHandler("new", self.on_new, filters=private))
        app.add_handler(MessageHandler(private & filters.COMMAND, self.on_unknown_command))
        app.add_handler(MessageHandler(private & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(private & ~filters.TEXT, self.on_not_text))
        app.add_handler(CallbackQueryHandler(self.on_pick, pattern=r"^pick:\d{1,18}$"))
        app.add_error_handler(self.on_error)
        return app

    async def serve(self, app: Application, stop: asyncio.Event) -> None:
        """Poll for updates and deliver results until `stop` is set."""
        await app.initialize()
        try:
            set_name(1, app.bot.username)  # a username that cannot end a set name fails now, not at the first tap
            await app.start()
            await app.updater.start_polling(timeout=self.settings.long_poll_s, poll_interval=0.0,
                                            allowed_updates=["message", "callback_query"])
            log.info("bot @%s is polling", app.bot.username)
            delivery = asyncio.create_task(self._delivery_loop(app.bot, stop))
            try:
                await stop.wait()
            finally:
                delivery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivery
                await app.updater.stop()
                await app.stop()
        finally:
            await app.shutdown()

    # commands
    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        language = (update.effective_user.language_code or "") if update.effective_user else ""
        text = texts.START if language.startswith("ru") else f"{texts.START}\n\n{texts.START_EN}"
        await update.effective_message.reply_text(text)

    async def on_set(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = update.effective_user.id

        def look(s):
            current = sets_db.current_set(s, user_id)
            if current is None or current.created_in_telegram_at is None:
                return None
            return current.name, sets_db.count_stickers(s, current.id)

        found = await self._read(look)
        await update.effective_message.reply_text(texts.NO_SET if found is None else
                                                  texts.your_set(set_link(found[0]), found[1]))

    async def on_undo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = update.effective_user.id

        def look(s):
            pick = sets_db.last_added_pick(s, user_id)
            return None if pick is None else (pick.id, pick.file_id, sets_db.get_set(s, pick.sticker_set_id))

        found = await self._read(look)
        message = update.effective_message
        if found is None:
            await message.reply_text(texts.NOTHING_TO_UNDO)
            return
        pick_id, file_id, sticker_set = found
        try:
            if file_id is None:  # Telegram did not tell us the file id when it was added: the set's last one
                stickers = (await context.bot.get_sticker_set(sticker_set.name)).stickers
                file_id = stickers[-1].file_id if stickers else None
            if file_id is not None:
                await context.bot.delete_sticker_from_set(file_id)
        except TelegramError as exc:
            await message.reply_text(explain(exc, sticker_set.name)[1])
            return

        def remove(s):
            sets_db.mark_removed(s, pick_id)
            return sets_db.count_stickers(s, sticker_set.id)

        count = await self._write(remove)
        await message.reply_text(texts.undone(set_link(sticker_set.name), count))

    async def on_new(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        username = context.bot.username

        def start_next(s):
            current = sets_db.current_set(s, user.id)
            if current is None:
                return None
            if current.created_in_telegram_at is not None and sets_db.count_stickers(s, current.id) == 0:
                return 0
            ordinal = current.ordinal + 1
            sets_db.add_set(s, user.id, ordinal, set_name(user.id, username, ordinal), set_title(user.first_name, ordinal))
            return ordinal

        ordinal = await self._write(start_next)
        reply = texts.NO_SET if ordinal is None else texts.NEW_SET_EMPTY if ordinal == 0 else texts.new_set(ordinal)
        await update.effective_message.reply_text(reply)

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(texts.UNKNOWN_COMMAND)

    async def on_not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(texts.NOT_TEXT)

    # a caption
    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        try:
            caption = check_caption(message.text, self.settings.max_caption_chars)
        except CaptionRefused as refused:
            await message.reply_text(refused.reply)
            return

        def queue(s):
            job = jobs_db.add_job(s, user_id=user.id, chat_id=message.chat_id, prompt=caption.text,
                                  language=user.language_code, limits=self.settings.limits)
            return job.id, jobs_db.queue_position(s, job.id)

        try:
            job_id, position = await self._write(queue)
        except NoReleasedModel:
            await message.reply_text(texts.NO_MODEL)
            return
        except RequestRefused as refused:
            await message.reply_text(self._refusal(refused))
            return
        if caption.truncated:
            await message.reply_text(texts.truncated(len(caption.text), caption.original_length))
        text = texts.queued(position or 1)
        status = await message.reply_text(text)
        self._shown[job_id] = text
        await self._write(jobs_db.set_status_message, job_id, status.message_id)

    def _refusal(self, refused: RequestRefused) -> str:
        limits = self.settings.limits
        if refused.reason == "rate":
            return texts.rate_limited(limits.per_minute, refused.retry_after_s or 60)
        if refused.reason == "user_queue":
            return texts.user_queue_full(limits.pending_per_user)
        return texts.QUEUE_FULL

    # a tap on a candidate's button
    async def on_pick(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        user, bot = query.from_user, context.bot
        candidate_id = int(query.data.split(":", 1)[1])
        plan = await self._write(self._plan_pick, candidate_id, user.id, user.first_name, bot.username)
        if plan.outcome != "go":
            answer = {"gone": texts.GONE, "not_yours": texts.NOT_YOURS, "already": texts.ALREADY,
                      "full": texts.set_full(SET_LIMIT)}[plan.outcome]
            await query.answer(answer, show_alert=plan.outcome == "full")
            if plan.outcome == "full":
                await self._reply(query, bot, answer)
            return
        await query.answer(texts.ADDING)

        def prepare(s):
            emoji = sets_db.emoji_for_caption(s, normalize_caption(plan.prompt)) or DEFAULT_EMOJI
            return emoji, sticker_file(_png_image(s, plan.rgba_sha256))

        emoji, png = await self._read(prepare)
        sticker = InputSticker(png, [emoji], format=StickerFormat.STATIC)
        try:
            if plan.create:
                await bot.create_new_sticker_set(user.id, plan.set_name, plan.title, [sticker])
            else:
                await bot.add_sticker_to_set(user.id, plan.set_name, sticker)
        except TelegramError as exc:
            kind, reply = explain(exc, plan.set_name)
            await self._write(sets_db.add_pick, candidate_id=candidate_id, set_id=plan.set_id, user_id=user.id,
                              status="failed", emoji=emoji, error=f"{kind}: {exc}"[:2000])
            await self._reply(query, bot, reply)
            return
        file_id = None
        with contextlib.suppress(TelegramError):  # only /undo needs it, and it can look again
            stickers = (await bot.get_sticker_set(plan.set_name)).stickers
            file_id = stickers[-1].file_id if stickers else None

        def record(s):
            if plan.create:
                sets_db.mark_created_in_telegram(s, plan.set_id)
            sets_db.add_pick(s, candidate_id=candidate_id, set_id=plan.set_id, user_id=user.id, status="added",
                             emoji=emoji, file_id=file_id)
            return sets_db.count_stickers(s, plan.set_id)

        count = await self._write(record)
        await self._reply(query, bot, texts.added(set_link(plan.set_name), count, plan.create))

    @staticmethod
    def _plan_pick(s, candidate_id: int, user_id: int, first_name: str | None, username: str) -> PickPlan:
        candidate = sets_db.get_candidate(s, candidate_id)
        if candidate is None:
            return PickPlan("gone")
        if candidate.owner_id != user_id:
            return PickPlan("not_yours")
        current = sets_db.current_set(s, user_id)
        if current is None:
            current = sets_db.add_set(s, user_id, 1, set_name(user_id, username, 1), set_title(first_name, 1))
        if sets_db.is_in_set(s, candidate_id, current.id):
            return PickPlan("already")
        if sets_db.count_stickers(s, current.id) >= SET_LIMIT:
            return PickPlan("full")
        return PickPlan("go", current.id, current.name, current.title, current.created_in_telegram_at is None,
                        candidate.prompt, candidate.rgba_sha256)

    @staticmethod
    async def _reply(query, bot, text: str) -> None:
        if query.message is not None:
            await query.message.reply_text(text)
        else:
            await bot.send_message(query.from_user.id, text)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s: %s", type(context.error).__name__, context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WRONG)

    # results
    async def _delivery_loop(self, bot, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sync_once(bot)
            except RetryAfter as exc:  # Telegram's flood control: wait as told
                delay = exc.retry_after
                await asyncio.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
            except Exception as exc:  # the database or the network: say so, try again
                log.warning("delivery: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.poll_s)

    async def sync_once(self, bot) -> None:
        """One pass: fail abandoned jobs, update status messages, send finished albums and failures."""
        if await self._read(jobs_db.count_abandoned_jobs):  # a read first: no write lock taken on every pass
            await self._write(jobs_db.fail_abandoned_jobs)
        for job in await self._read(jobs_db.undelivered_jobs):
            if job.status == "queued":
                await self._status(bot, job, texts.queued(job.position or 1))
            elif job.status == "running":
                if time.monotonic() - self._edited_at.get(job.id, -math.inf) >= self.settings.progress_edit_s:
                    await self._status(bot, job, texts.drawing(job.progress))
                    self._edited_at[job.id] = time.monotonic()
            elif job.status == "done":
                await self._deliver(bot, job)
            else:
                await self._write(jobs_db.mark_delivered, job.id)
                await self._status(bot, job, texts.failed(job.attempts), new_message_if_none=True)
                self._shown.pop(job.id, None)
                self._edited_at.pop(job.id, None)

    async def _status(self, bot, job: JobView, text: str, new_message_if_none: bool = False) -> None:
        if self._shown.get(job.id) == text:
            return
        if job.status_message_id is None:
            if new_message_if_none:
                await bot.send_message(job.chat_id, text)
            return
        try:
            await bot.edit_message_text(text, chat_id=job.chat_id, message_id=job.status_message_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        self._shown[job.id] = text

    async def _deliver(self, bot, job: JobView) -> None:
        candidates = await self._read(jobs_db.list_job_candidates, job.id)

        def previews(s):
            return [preview(_png_image(s, c.rgba_sha256)) for c in candidates]

        files = await self._read(previews)
        buttons = [InlineKeyboardButton(str(i + 1), callback_data=f"pick:{c.id}") for i, c in enumerate(candidates)]
        try:
            if len(files) >= 2:
                await bot.send_media_group(job.chat_id, [InputMediaPhoto(f, caption=str(i + 1))
                                                         for i, f in enumerate(files)])
            else:
                await bot.send_photo(job.chat_id, files[0], caption="1")
            await bot.send_message(job.chat_id, texts.PICK_PROMPT.format(prompt=job.prompt),
                                   reply_markup=InlineKeyboardMarkup([buttons]))
        except Forbidden as exc:  # the user blocked the bot: nobody to deliver to
            log.info("job %s: not delivered: %s", job.id, exc)
            await self._write(jobs_db.mark_delivered, job.id)
            return
        except BadRequest as exc:
            tries = self._delivery_failures[job.id] = self._delivery_failures.get(job.id, 0) + 1
            if tries < DELIVERY_TRIES:
                raise
            await self._write(jobs_db.mark_delivered, job.id)
            await bot.send_message(job.chat_id, explain(exc, "")[1])
            return
        await self._write(jobs_db.mark_delivered, job.id)
        await self._status(bot, job, texts.done(len(candidates)))
        self._shown.pop(job.id, None)
        self._edited_at.pop(job.id, None)
