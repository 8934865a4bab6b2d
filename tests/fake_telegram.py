"""A fake Telegram Bot API server for tests (aiohttp on 127.0.0.1).

The real bot is pointed at it with python-telegram-bot's `base_url`/`base_file_url`. It serves the
updates a test scripts (`send_text`, `send_photo`, `send_voice`, `tap`), answers the methods the bot
uses the way the Bot API does (including its refusals: a sticker set name already taken, a full set,
a file over the size limit, a sticker of the wrong size) and records every call with its uploaded
files (`calls`, `wait_call`).
"""
from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"
BOT = {"id": 123456789, "is_bot": True, "first_name": "Emojich", "username": "emojich_test_bot",
       "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
STATIC_SET_LIMIT = 120
MAX_STICKER_BYTES = 512 * 1024


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str = "Аня"
    language_code: str | None = "ru"

    def as_dict(self) -> dict:
        user = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, bytes]
    at: float = field(default_factory=time.monotonic)
    result: Any = None
    error: str | None = None

    def json(self, name: str):
        return json.loads(self.params[name])

    def attached(self, value: str) -> bytes:
        """The uploaded bytes an `attach://name` reference points at."""
        return self.files[value.removeprefix("attach://")]


class ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


@dataclass
class FakeSet:
    owner: int
    title: str
    stickers: list[dict]


def check_sticker_file(data: bytes, max_bytes: int) -> tuple[int, int]:
    """Telegram's rules for a static sticker file; ApiError with its wording otherwise."""
    if len(data) > max_bytes:
        raise ApiError(400, "Bad Request: file is too big")
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, size = image.format, image.size
    except OSError:
        raise ApiError(400, "Bad Request: STICKER_FILE_INVALID") from None
    if fmt not in ("PNG", "WEBP"):
        raise ApiError(400, "Bad Request: STICKER_PNG_NOPNG")
    if max(size) != 512 or min(size) > 512:
        raise ApiError(400, "Bad Request: STICKER_PNG_DIMENSIONS")
    return size


class FakeTelegram:
    def __init__(self, token: str = TOKEN, bot: dict = BOT) -> None:
        self.token, self.bot = token, bot
        self.calls: list[Call] = []
        self.sticker_sets: dict[str, FakeSet] = {}
        self.failures: dict[str, list[tuple[int, str]]] = {}  # method → scripted errors, used once each
        self.max_sticker_bytes = MAX_STICKER_BYTES
        self.max_long_poll_s = 0.5
        self._updates: list[dict] = []
        self.pushed: list[tuple[int, dict]] = []  # (len(calls) when pushed, update): what users did, in order
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._texts: dict[tuple[int, int], str] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # server
    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, files = {}, {}
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = value
        call = Call(method, params, files)
        handler = getattr(self, f"_{method}", None)
        try:
            if method in self.failures and self.failures[method]:
                raise ApiError(*self.failures[method].pop(0))
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            call.result = await handler(call)
        except ApiError as exc:
            call.error = exc.description
            await self._record(call)
            return web.json_response({"ok": False, "error_code": exc.code, "description": exc.description},
                                     status=exc.code)
        await self._record(call)
        return web.json_response({"ok": True, "result": call.result})

    async def _record(self, call: Call) -> None:
        if call.method != "getUpdates" or call.result:
            self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    # what users do
    async def _push(self, update: dict) -> dict:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self.pushed.append((len(self.calls), update))
        async with self._changed:
            self._changed.notify_all()
        return update

    def _incoming(self, user: FakeUser, **content) -> dict:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
                "from": user.as_dict(), **content}

    async def send_text(self, user: FakeUser, text: str) -> dict:
        content: dict = {"text": text}
        command = re.match(r"/\w+", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return await self._push({"message": self._incoming(user, **content)})

    async def send_photo(self, user: FakeUser, caption: str | None = None) -> dict:
        photo = [{"file_id": "in-photo", "file_unique_id": "in-photo-u", "width": 90, "height": 90}]
        content = {"photo": photo, **({"caption": caption} if caption else {})}
        return await self._push({"message": self._incoming(user, **content)})

    async def send_voice(self, user: FakeUser) -> dict:
        voice = {"file_id": "in-voice", "file_unique_id": "in-voice-u", "duration": 3, "mime_type": "audio/ogg"}
        return await self._push({"message": self._incoming(user, voice=voice)})

    async def tap(self, user: FakeUser, keyboard_call: Call, button: int) -> dict:
        """Press button `button` (0-based) of the inline keyboard a sendMessage call carried."""
        markup = keyboard_call.json("reply_markup")
        data = [b for row in markup["inline_keyboard"] for b in row][button]["callback_data"]
        query = {"id": f"cq{next(self._update_ids)}", "from": user.as_dict(), "chat_instance": "fake",
                 "data": data, "message": keyboard_call.result}
        return await self._push({"callback_query": query})

    # waiting on the bot
    async def wait_call(self, method: str, since: int = 0, where=lambda call: True, timeout: float = 90) -> Call:
        """The first recorded call of `method` at index >= since that satisfies `where`."""
        async def found():
            for call in self.calls[since:]:
                if call.method == method and where(call):
                    return call
            return None

        deadline = time.monotonic() + timeout
        async with self._changed:
            while (call := await found()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {method} call within {timeout} s; calls: {self.summary()}")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    pass
            return call

    async def replies_to(self, user: FakeUser, since: int, count: int = 1, timeout: float = 30) -> list[str]:
        """The texts of the next `count` sendMessage calls to `user`'s chat after index `since`."""
        out = []
        for _ in range(count):
            call = await self.wait_call("sendMessage", since, lambda c: c.params.get("chat_id") == str(user.id),
                                        timeout)
            out.append(call.params["text"])
            since = self.calls.index(call) + 1
        return out

    def summary(self) -> str:
        return ", ".join(f"{c.method}{'!' if c.error else ''}" for c in self.calls[-30:])

    # the Bot API methods the bot uses
    def _message(self, chat_id: int, **content) -> dict:
        message_id = next(self._message_ids)
        if "text" in content:
            self._texts[(chat_id, message_id)] = content["text"]
        return {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                "from": self.bot, **content}

    def _photo(self, data: bytes) -> list[dict]:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        n = next(self._file_ids)
        return [{"file_id": f"photo{n}", "file_unique_id": f"photo{n}u", "width": width, "height": height}]

    async def _getMe(self, call: Call):
        return self.bot

    async def _deleteWebhook(self, call: Call):
        return True

    async def _getUpdates(self, call: Call):
        offset = int(call.params.get("offset", 0) or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            wait = min(float(call.params.get("timeout", 0) or 0), self.max_long_poll_s)
            async with self._changed:
                with_timeout = asyncio.wait_for(self._changed.wait_for(lambda: bool(self._updates)), wait)
                try:
                    await with_timeout
                except TimeoutError:
                    pass
        return list(self._updates)

    async def _sendMessage(self, call: Call):
        content = {"text": call.params["text"]}
        if "reply_markup" in call.params:
            content["reply_markup"] = call.json("reply_markup")
        return self._message(int(call.params["chat_id"]), **content)

    async def _editMessageText(self, call: Call):
        key = (int(call.params["chat_id"]), int(call.params["message_id"]))
        if key not in self._texts:
            raise ApiError(400, "Bad Request: message to edit not found")
        if self._texts[key] == call.params["text"]:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        self._texts[key] = call.params["text"]
        return {"message_id": key[1], "date": int(time.time()), "chat": {"id": key[0], "type": "private"},
                "from": self.bot, "text": call.params["text"], "edit_date": int(time.time())}

    async def _sendMediaGroup(self, call: Call):
        media = call.json("media")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album")
        chat_id = int(call.params["chat_id"])
        return [self._message(chat_id, photo=self._photo(call.attached(m["media"])), caption=m.get("caption", ""),
                              media_group_id="album") for m in media]

    async def _sendPhoto(self, call: Call):
        return self._message(int(call.params["chat_id"]), photo=self._photo(call.files["photo"]))

    async def _answerCallbackQuery(self, call: Call):
        return True

    def _sticker(self, call: Call, sticker: dict) -> dict:
        if sticker.get("format") != "static":
            raise ApiError(400, "Bad Request: STICKER_FORMAT_INVALID")
        width, height = check_sticker_file(call.attached(sticker["sticker"]), self.max_sticker_bytes)
        n = next(self._file_ids)
        return {"file_id": f"sticker{n}", "file_unique_id": f"sticker{n}u", "type": "regular", "width": width,
                "height": height, "is_animated": False, "is_video": False, "emoji": sticker["emoji_list"][0]}

    def _check_name(self, name: str) -> None:
        suffix = f"_by_{self.bot['username']}"
        if (not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name) or "__" in name
                or not name.lower().endswith(suffix.lower())):
            raise ApiError(400, "Bad Request: invalid sticker set name is specified")

    async def _createNewStickerSet(self, call: Call):
        name = call.params["name"]
        self._check_name(name)
        if name in self.sticker_sets:
            raise ApiError(400, "Bad Request: sticker set name is already occupied")
        stickers = [self._sticker(call, s) for s in call.json("stickers")]
        self.sticker_sets[name] = FakeSet(int(call.params["user_id"]), call.params["title"], stickers)
        return True

    async def _addStickerToSet(self, call: Call):
        found = self.sticker_sets.get(call.params["name"])
        if found is None or found.owner != int(call.params["user_id"]):
            raise ApiError(400, "Bad Request: STICKERSET_INVALID")
        if len(found.stickers) >= STATIC_SET_LIMIT:
            raise ApiError(400, "Bad Request: STICKERS_TOO_MUCH")
        found.stickers.append(self._sticker(call, call.json("sticker")))
        return True

    async def _getStickerSet(self, call: Call):
        name = call.params["name"]
        if name not in self.sticker_sets:
            raise ApiError(400, "Bad Request: STICKERSET_INVALID")
        found = self.sticker_sets[name]
        return {"name": name, "title": found.title, "sticker_type": "regular", "stickers": found.stickers}

    async def _deleteStickerFromSet(self, call: Call):
        for found in self.sticker_sets.values():
            for sticker in found.stickers:
                if sticker["file_id"] == call.params["sticker"]:
                    found.stickers.remove(sticker)
                    return True
        raise ApiError(400, "Bad Request: STICKER_INVALID")
