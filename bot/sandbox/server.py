"""The Bot API emulator: an aiohttp server speaking Telegram's HTTP protocol.

Unmodified aiogram (or any HTTP client) talks to it through
``TelegramAPIServer.from_base(emu.base_url)``; tests drive the human side through
:class:`~bot.sandbox.users.UserDriver` objects in the same event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.entities import EntityParseError, parse_html, parse_markdown_v2, utf16_len
from bot.sandbox.faults import Fault, FaultInjector
from bot.sandbox.flood import FloodControl, FloodLimits
from bot.sandbox.users import UserDriver
from bot.sandbox.world import (
    JSON,
    MEDIA_KINDS,
    BotWorld,
    Chat,
    SentMessage,
    StoredFile,
    UserProfile,
    Webhook,
    media_object,
    now_ts,
    strip_reply,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"

# Parameters that clients send JSON-serialised inside form fields (aiogram always does).
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "media",
        "commands",
        "scope",
        "allowed_updates",
    }
)
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "copy_text",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Upload:
    filename: str | None
    data: bytes
    content_type: str | None


@dataclass
class Stats:
    responses_429: int = 0
    flood_429: int = 0
    responses_5xx: int = 0
    faults_injected: int = 0
    webhook_attempts: int = 0
    webhook_delivered: int = 0
    webhook_failures: int = 0


Handler = Callable[[BotWorld, JSON, dict[str, Upload]], Awaitable[Any]]


def _int(params: JSON, key: str, default: int | None = None) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"invalid {key} specified") from None


def _bool(params: JSON, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _order_key(update: JSON) -> object:
    """The chat whose updates must arrive in order (the user for updates without a chat); an
    update with neither has no order to keep."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat")
        if chat is None and isinstance(payload.get("message"), dict):
            chat = payload["message"].get("chat")  # callback_query
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        user = payload.get("from") or payload.get("user")
        if isinstance(user, dict) and "id" in user:
            return ("chat", user["id"])  # private chats: the chat id is the user id
    return ("update", update.get("update_id"))


def _remove_by_identity(updates: list[JSON], update: JSON) -> None:
    # By identity (a delivered update is near the front): the list may have been replaced.
    for i, u in enumerate(updates):
        if u is update:
            del updates[i]
            return


class BotApiEmulator:
    """A local Telegram Bot API server with a test/driver API.

    ``flood_limits``: False (off), True (Telegram's 30/s global, 1/s per chat) or a
    :class:`FloodLimits`.  ``webhook_retry_delay`` is the pause before a failed webhook
    delivery is retried; ``fault_hold`` how long a "timeout" fault holds the request.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        tokens: list[str] | None = None,
        flood_limits: bool | FloodLimits = False,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 1.0,
        webhook_timeout: float = 10.0,
        fault_hold: float = 65.0,
        callback_ttl: float = 15.0,
        strict_ampersand: bool = True,
        bot_name: str = "Claimdesk Sandbox",
        bot_username: str | None = None,
        sandbox_ui: bool = True,
        require_start: bool = False,
    ) -> None:
        all_tokens = list(tokens) if tokens else [token]
        self.worlds: dict[str, BotWorld] = {
            t: BotWorld(t, first_name=bot_name, username=bot_username if i == 0 else None)
            for i, t in enumerate(all_tokens)
        }
        self.token = all_tokens[0]
        self.host = host
        self.port = port
        self.faults = FaultInjector()
        self.flood = FloodControl(
            limits=flood_limits if isinstance(flood_limits, FloodLimits) else FloodLimits(),
            enabled=bool(flood_limits),
        )
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.fault_hold = fault_hold
        self.callback_ttl = callback_ttl
        self.strict_ampersand = strict_ampersand
        self.sandbox_ui = sandbox_ui
        # Telegram refuses to let a bot write first; off by default so tests can seed chats.
        self.require_start = require_start
        self.calls: list[tuple[str, JSON]] = []
        self.method_counts: Counter[str] = Counter()
        self._stats = Stats()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._webhook_tasks: dict[str, asyncio.Task[None]] = {}
        self._poll_generation: dict[str, int] = {t: 0 for t in self.worlds}
        self._methods: dict[str, tuple[str, Handler]] = {}
        self._register_methods()

    # ------------------------------------------------------------------ lifecycle
    @property
    def world(self) -> BotWorld:
        return self.worlds[self.token]

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    def api_url(self, method: str, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.token}/{method}"

    def build_app(self) -> web.Application:
        # 50 MB: the Bot API upload limit for bots.
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        if self.sandbox_ui:
            from bot.sandbox.page import add_sandbox_routes

            add_sandbox_routes(app, self)
        return app

    async def start(self) -> str:
        self._closing.clear()
        app = self.build_app()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        for world in self.worlds.values():
            world.notify()
        for task in self._webhook_tasks.values():
            task.cancel()
        for task in self._webhook_tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._webhook_tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ driver API
    def _world(self, token: str | None) -> BotWorld:
        return self.worlds[token or self.token]

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        token: str | None = None,
    ) -> UserDriver:
        """The driver of user ``user_id``; creates the user (and the private chat) on first use.

        Calling it again without ``first_name`` returns a driver of the existing user unchanged;
        with ``first_name`` the profile is replaced (later messages carry the new profile).
        """
        world = self._world(token)
        existing = world.chats.get(user_id)
        if existing is not None and first_name is None:
            return UserDriver(self, world, existing)
        profile = UserProfile(
            id=user_id,
            first_name=first_name or f"User {user_id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        return UserDriver(self, world, world.chat_for(profile))

    def sent(self, chat_id: int, token: str | None = None) -> list[SentMessage]:
        chat = self._world(token).chats.get(chat_id)
        return list(chat.sent) if chat else []

    @property
    def stats(self) -> JSON:
        s = self._stats
        return {
            "calls": dict(self.method_counts),
            "total_calls": sum(self.method_counts.values()),
            "responses_429": s.responses_429,
            "flood_429": s.flood_429,
            "responses_5xx": s.responses_5xx,
            "faults_injected": s.faults_injected,
            "webhook_attempts": s.webhook_attempts,
            "webhook_delivered": s.webhook_delivered,
            "webhook_failures": s.webhook_failures,
            "pending_updates": {t: len(w.updates) for t, w in self.worlds.items()},
        }

    def calls_of(self, method: str) -> list[JSON]:
        m = method.lower()
        return [p for name, p in self.calls if name.lower() == m]

    def _set_member_status(self, user_id: int, token: str | None, blocked: bool) -> None:
        world = self._world(token)
        chat = world.chats.get(user_id)
        if chat is None:
            raise LookupError(f"unknown user {user_id}")
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot_member = {"user": world.bot_user}
        # Telegram tells the bot about it with a my_chat_member update.
        world.push_update(
            "my_chat_member",
            {
                "chat": chat.user.as_chat(),
                "from": chat.user.as_user(),
                "date": now_ts(),
                "old_chat_member": {**bot_member, "status": old, **({"until_date": 0} if old == "kicked" else {})},
                "new_chat_member": {**bot_member, "status": new, **({"until_date": 0} if new == "kicked" else {})},
            },
        )

    def block(self, user_id: int, *, token: str | None = None) -> None:
        self._set_member_status(user_id, token, True)

    def unblock(self, user_id: int, *, token: str | None = None) -> None:
        self._set_member_status(user_id, token, False)

    def delete_account(self, user_id: int, *, token: str | None = None) -> None:
        chat = self._world(token).chats.get(user_id)
        if chat is None:
            raise LookupError(f"unknown user {user_id}")
        chat.deactivated = True

    # ------------------------------------------------------------------ HTTP layer
    def _error(self, code: int, description: str, parameters: JSON | None = None) -> web.Response:
        if code == 429:
            self._stats.responses_429 += 1
        if code >= 500:
            self._stats.responses_5xx += 1
        body: JSON = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, Upload]]:
        params: JSON = dict(request.query)
        files: dict[str, Upload] = {}
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise bad("JSON body must be an object")
                params.update(body)
            elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = Upload(value.filename, value.file.read(), value.content_type)
                    else:
                        params[key] = value
        for key in _JSON_FIELDS & params.keys():
            value = params[key]
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    if key == "reply_markup":
                        raise bad("can't parse reply keyboard markup JSON object") from None
                    raise bad(f"can't parse {key} JSON object") from None
        return params, files

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        world = self.worlds.get(request.match_info["token"])
        if world is None:
            return self._error(401, "Unauthorized")
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return self._error(404, "Not Found")
        name, handler = entry
        try:
            params, files = await self._read_params(request)
        except ApiError as e:
            return self._error(e.code, e.description, e.parameters)
        self.calls.append((name, params))
        self.method_counts[name] += 1
        fault = self.faults.take(name, params)
        if fault is not None:
            self._stats.faults_injected += 1
            early = await self._fault_response(request, fault)
            if early is not None:
                return early
        try:
            result = await handler(world, params, files)
        except ApiError as e:
            return self._error(e.code, e.description, e.parameters)
        if fault is not None and fault.kind == "timeout_after":
            await self._hold(fault)
        return web.json_response({"ok": True, "result": result})

    async def _hold(self, fault: Fault) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), fault.hold if fault.hold is not None else self.fault_hold)

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        kind = fault.kind
        if kind == "429":
            n = fault.retry_after
            return self._error(429, f"Too Many Requests: retry after {n}", {"retry_after": n})
        if kind == "500":
            return self._error(500, fault.description or "Internal Server Error")
        if kind == "502":
            return self._error(502, fault.description or "Bad Gateway")
        if kind == "403":
            return self._error(403, fault.description or BLOCKED)
        if kind == "400":
            return self._error(
                400,
                fault.description or 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            )
        if kind == "timeout":
            await self._hold(fault)
            return self._error(502, "Bad Gateway")
        if kind == "drop":
            # Abort the TCP connection without any HTTP answer, as a dying proxy would.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return None  # timeout_after: execute, then hold

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        world = self.worlds.get(request.match_info["token"])
        if world is None:
            return self._error(401, "Unauthorized")
        f = world.files.by_path.get(request.match_info["path"])
        if f is None:
            return self._error(404, "Not Found")
        ctype = f.mime_type or mimetypes.guess_type(f.file_path)[0] or "application/octet-stream"
        return web.Response(body=f.data, content_type=ctype)

    async def call(self, method: str, params: JSON | None = None, *, token: str | None = None) -> Any:
        """Execute a Bot API method in-process (used for webhook replies; handy in tests)."""
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ApiError(404, "Not Found")
        name, handler = entry
        params = dict(params or {})
        self.calls.append((name, params))
        self.method_counts[name] += 1
        return await handler(self._world(token), params, {})

    # ------------------------------------------------------------------ helpers
    def _chat(self, world: BotWorld, params: JSON, *, key: str = "chat_id") -> Chat:
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad("chat_id is empty") if key == "chat_id" else bad("chat not found")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad("chat not found") from None
        chat = world.chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        return chat

    def _writable_chat(self, world: BotWorld, params: JSON) -> Chat:
        chat = self._chat(world, params)
        if chat.deactivated:
            raise ApiError(403, DEACTIVATED)
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        if self.require_start and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _flood_check(self, chat: Chat, *, counts_global: bool = True) -> None:
        retry = self.flood.check(chat.id, counts_global=counts_global)
        if retry is not None:
            self._stats.flood_429 += 1
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    def _format(self, text: Any, parse_mode: Any, entities: Any, *, caption: bool = False) -> tuple[str, list[JSON]]:
        text = "" if text is None else str(text)
        parsed: list[JSON] = []
        if parse_mode:
            mode = str(parse_mode).lower()
            try:
                if mode == "html":
                    text, parsed = parse_html(text, strict_ampersand=self.strict_ampersand)
                elif mode == "markdownv2":
                    text, parsed = parse_markdown_v2(text)
                elif mode != "markdown":
                    raise bad("unsupported parse_mode")
            except EntityParseError as e:
                raise bad(f"can't parse entities: {e}") from None
        elif isinstance(entities, list):
            parsed = entities
        limit = CAPTION_LIMIT if caption else TEXT_LIMIT
        if utf16_len(text) > limit:
            raise bad("message caption is too long" if caption else "message is too long")
        return text, parsed

    def _markup(self, params: JSON) -> JSON | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad("can't parse inline keyboard markup JSON object")
            for row in rows:
                for b in row:
                    if not isinstance(b, dict) or not b.get("text"):
                        raise bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    if not any(k in b for k in _INLINE_ACTIONS):
                        raise bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    data = b.get("callback_data")
                    if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
                        raise bad("BUTTON_DATA_INVALID")
                    url = b.get("url")
                    if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                        raise bad("BUTTON_URL_INVALID")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad("can't parse keyboard markup JSON object")
            for row in rows:
                for b in row:
                    if not (isinstance(b, str) or (isinstance(b, dict) and isinstance(b.get("text"), str))):
                        raise bad('can\'t parse keyboard button: field "text" must be of type String')
        return markup

    def _reply_to(self, chat: Chat, params: JSON) -> int | None:
        rp = params.get("reply_parameters")
        mid: int | None = None
        allow_missing = _bool(params, "allow_sending_without_reply")
        if isinstance(rp, dict):
            mid = _int(rp, "message_id")
            allow_missing = allow_missing or _bool(rp, "allow_sending_without_reply")
        elif params.get("reply_to_message_id") not in (None, ""):
            mid = _int(params, "reply_to_message_id")
        if mid is None:
            return None
        if mid not in chat.messages:
            if allow_missing:
                return None
            raise bad("message to be replied not found")
        return mid

    def _deliver(
        self,
        world: BotWorld,
        chat: Chat,
        content: JSON,
        *,
        kind: str,
        method: str,
        params: JSON,
        markup: JSON | None,
        reply_to: int | None,
        file: StoredFile | None = None,
    ) -> JSON:
        """Create a bot message in the chat, record it for the user side, return its JSON."""
        mid = chat.new_message_id()
        msg: JSON = {"message_id": mid, "from": world.bot_user, "chat": chat.user.as_chat(), "date": now_ts()}
        if reply_to is not None:
            msg["reply_to_message"] = strip_reply(chat.messages[reply_to])
        msg.update(content)
        # Only inline keyboards are part of the Message object; reply keyboards live on the client.
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        chat.messages[mid] = msg
        chat.from_bot.add(mid)
        if markup and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup and markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        record = SentMessage(
            message_id=mid,
            chat_id=chat.id,
            kind=kind,
            date=msg["date"],
            text=content.get("text"),
            caption=content.get("caption"),
            parse_mode=params.get("parse_mode") or None,
            entities=list(content.get("entities") or content.get("caption_entities") or []),
            reply_markup=markup,
            media_group_id=content.get("media_group_id"),
            file_id=file.file_id if file else None,
            file_name=file.file_name if file else None,
            reply_to_message_id=reply_to,
            raw=msg,
            method=method,
        )
        chat.sent.append(record)
        chat.sent_by_id[mid] = record
        world.notify()
        return msg

    def _input_file(self, world: BotWorld, value: Any, files: dict[str, Upload], field: str, kind: str) -> StoredFile:
        upload: Upload | None = None
        if value is None or value == "":
            upload = files.get(field)
            if upload is None:
                raise bad(f"there is no {field} in the request")
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad(WRONG_FILE.removeprefix("Bad Request: "))
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            # No internet here: an URL source becomes a placeholder file with that name.
            name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
            upload = Upload(name, f"downloaded from {value}".encode(), None)
        elif isinstance(value, str):
            existing = world.files.get(value)
            if existing is None:
                raise bad(WRONG_FILE.removeprefix("Bad Request: "))
            return existing
        else:
            raise bad(WRONG_FILE.removeprefix("Bad Request: "))
        if not upload.data:
            raise bad("file must be non-empty")
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename or "")[0] or mime
        return world.files.add(upload.data, kind, file_name=upload.filename, mime_type=mime)

    def _caption(self, params: JSON) -> JSON:
        caption, ents = self._format(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities"), caption=True
        )
        out: JSON = {}
        if caption:
            out["caption"] = caption
            if ents:
                out["caption_entities"] = ents
        return out

    # ------------------------------------------------------------------ methods
    def _register_methods(self) -> None:
        table: dict[str, Handler] = {
            "getMe": self.m_get_me,
            "logOut": self.m_true,
            "close": self.m_true,
            "getUpdates": self.m_get_updates,
            "setWebhook": self.m_set_webhook,
            "deleteWebhook": self.m_delete_webhook,
            "getWebhookInfo": self.m_get_webhook_info,
            "sendMessage": self.m_send_message,
            "editMessageText": self.m_edit_text,
            "editMessageCaption": self.m_edit_caption,
            "editMessageReplyMarkup": self.m_edit_markup,
            "deleteMessage": self.m_delete_message,
            "answerCallbackQuery": self.m_answer_callback,
            "sendMediaGroup": self.m_send_media_group,
            "copyMessage": self.m_copy_message,
            "forwardMessage": self.m_forward_message,
            "sendChatAction": self.m_send_chat_action,
            "sendContact": self.m_send_contact,
            "sendLocation": self.m_send_location,
            "setMyCommands": self.m_set_my_commands,
            "getMyCommands": self.m_get_my_commands,
            "deleteMyCommands": self.m_delete_my_commands,
            "setMyDescription": self.m_true,
            "setMyShortDescription": self.m_true,
            "setChatMenuButton": self.m_true,
            "getFile": self.m_get_file,
            "getChat": self.m_get_chat,
        }
        for kind in MEDIA_KINDS:
            method = "send" + "".join(p.capitalize() for p in kind.split("_"))
            table[method] = self._media_sender(kind, method)
        self._methods = {name.lower(): (name, fn) for name, fn in table.items()}

    async def m_true(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        return True

    async def m_get_me(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        return world.bot_user

    async def m_get_chat(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._chat(world, p)
        return {**chat.user.as_chat(), "accent_color_id": 0, "max_reaction_count": 11}

    async def m_get_updates(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> list[JSON]:
        if world.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(p, "offset", 0) or 0
        limit = min(100, max(1, _int(p, "limit", 100) or 100))
        timeout = max(0, _int(p, "timeout", 0) or 0)
        if isinstance(p.get("allowed_updates"), list):
            # Telegram remembers allowed_updates between calls.
            world.allowed_updates = p["allowed_updates"] or None
        if offset > 0:
            world.updates = [u for u in world.updates if u["update_id"] >= offset]
        elif offset < 0:
            world.updates = world.updates[offset:]
        # A newer getUpdates ends an older long poll with 409, exactly like Telegram does when
        # two bot instances poll with one token.
        generation = self._poll_generation[world.token] = self._poll_generation[world.token] + 1
        world.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._poll_generation[world.token] != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            world.updates = [u for u in world.updates if world.update_allowed(u, world.allowed_updates)]
            if world.webhook is not None:
                return []
            remaining = deadline - loop.time()
            if world.updates or remaining <= 0 or self._closing.is_set():
                return world.updates[:limit]
            await world.wait_change(remaining)

    # webhooks -----------------------------------------------------------------
    async def m_set_webhook(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        url = str(p.get("url") or "")
        if not url:
            return await self.m_delete_webhook(world, p, files)
        if not re.match(r"^https?://[^\s/]+", url):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret not in (None, "") and not _SECRET_RE.match(str(secret)):
            raise bad("secret token contains unallowed characters")
        if _bool(p, "drop_pending_updates"):
            world.updates.clear()
        allowed = p.get("allowed_updates") if isinstance(p.get("allowed_updates"), list) else None
        world.webhook = Webhook(
            url=url,
            secret_token=str(secret) if secret else None,
            max_connections=_int(p, "max_connections", 40) or 40,
            allowed_updates=allowed or None,
        )
        if allowed is not None:
            world.allowed_updates = allowed or None
        self._restart_webhook_task(world)
        world.notify()
        return True

    async def m_delete_webhook(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        world.webhook = None
        if _bool(p, "drop_pending_updates"):
            world.updates.clear()
        task = self._webhook_tasks.pop(world.token, None)
        if task is not None:
            task.cancel()
        world.notify()
        return True

    async def m_get_webhook_info(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        hook = world.webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(world.updates),
        }
        if hook:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    def _restart_webhook_task(self, world: BotWorld) -> None:
        old = self._webhook_tasks.pop(world.token, None)
        if old is not None:
            old.cancel()
        self._webhook_tasks[world.token] = asyncio.create_task(
            self._webhook_loop(world), name=f"webhook-delivery-{world.bot_id}"
        )

    async def _webhook_loop(self, world: BotWorld) -> None:
        """Deliver pending updates like Telegram: up to the hook's `max_connections` requests at
        once, but at most one in flight per chat, so a chat's updates arrive in order. A failed
        update stays first in its chat's queue and is delivered again after
        `webhook_retry_delay`; the other chats go on meanwhile."""
        hook = world.webhook
        if hook is None:
            return
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        connector = aiohttp.TCPConnector(limit=hook.max_connections)
        in_flight: dict[object, asyncio.Task[None]] = {}
        retry_at: dict[object, float] = {}  # chat key -> loop time before which it is not retried
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def deliver(key: object, update: JSON) -> None:
                error = await self._post_update(world, session, hook, update)
                if error is None:
                    _remove_by_identity(world.updates, update)
                    self._stats.webhook_delivered += 1
                else:
                    self._stats.webhook_failures += 1
                    hook.last_error_date = now_ts()
                    hook.last_error_message = error
                    retry_at[key] = loop.time() + self.webhook_retry_delay
                in_flight.pop(key, None)
                world.notify()

            try:
                while world.webhook is hook and not self._closing.is_set():
                    now = loop.time()
                    for key in [k for k, t in retry_at.items() if t <= now]:
                        del retry_at[key]
                    busy = set(in_flight) | set(retry_at)  # chats whose next update must wait
                    dropped: list[JSON] = []
                    for update in world.updates:
                        if len(in_flight) >= hook.max_connections:
                            break
                        if not world.update_allowed(update, world.allowed_updates):
                            dropped.append(update)  # Telegram drops what the bot did not ask for
                            continue
                        key = _order_key(update)
                        if key in busy:
                            continue
                        busy.add(key)
                        in_flight[key] = asyncio.create_task(deliver(key, update))
                    for update in dropped:
                        _remove_by_identity(world.updates, update)
                    # Woken by new updates and by finished deliveries (both notify); the timeout
                    # brings a chat waiting for its retry back.
                    wait = min(retry_at.values(), default=now + 1.0) - now
                    await world.wait_change(max(0.01, min(1.0, wait)))
            finally:
                tasks = list(in_flight.values())
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _post_update(
        self, world: BotWorld, session: aiohttp.ClientSession, hook: Webhook, update: JSON
    ) -> str | None:
        """POST one update; None on success, else Telegram's last_error_message text."""
        self._stats.webhook_attempts += 1
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        try:
            async with session.post(hook.url, json=update, headers=headers) as resp:
                if not 200 <= resp.status < 300:
                    await resp.read()
                    return f"Wrong response from the webhook: {resp.status} {resp.reason}"
                await self._webhook_reply(world, resp)
                return None
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except aiohttp.ClientError as e:
            return f"Connection error: {type(e).__name__}"

    async def _webhook_reply(self, world: BotWorld, resp: aiohttp.ClientResponse) -> None:
        """Telegram executes a method the bot returns in the webhook response body."""
        params: JSON = {}
        if resp.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await resp.json()
                if isinstance(body, dict):
                    params = body
        elif resp.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(resp)
            files: dict[str, Upload] = {}
            async for part in reader:
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    if part.filename:
                        files[part.name] = Upload(part.filename, bytes(await part.read()), None)
                    else:
                        params[part.name] = await part.text()
            if "method" in params and files:
                entry = self._methods.get(str(params["method"]).lower())
                if entry:
                    p = {k: v for k, v in params.items() if k != "method"}
                    await self._run_quietly(world, entry, p, files)
                return
        else:
            await resp.read()
        method = params.pop("method", None)
        if isinstance(method, str) and (entry := self._methods.get(method.lower())):
            for key in _JSON_FIELDS & params.keys():
                if isinstance(params[key], str):
                    with contextlib.suppress(ValueError):
                        params[key] = json.loads(params[key])
            await self._run_quietly(world, entry, params, {})

    async def _run_quietly(
        self, world: BotWorld, entry: tuple[str, Handler], params: JSON, files: dict[str, Upload]
    ) -> None:
        name, handler = entry
        self.calls.append((name, params))
        self.method_counts[name] += 1
        try:
            await handler(world, params, files)
        except ApiError as e:  # the bot never learns about errors of webhook replies
            log.info("webhook reply %s failed: %s", name, e.description)

    # sending ------------------------------------------------------------------
    async def m_send_message(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._writable_chat(world, p)
        if p.get("text") in (None, ""):
            raise bad("message text is empty")
        text, ents = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad("message text is empty")
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood_check(chat)
        content: JSON = {"text": text}
        if ents:
            content["entities"] = ents
        return self._deliver(
            world, chat, content, kind="text", method="sendMessage", params=p, markup=markup, reply_to=reply_to
        )

    def _media_sender(self, kind: str, method: str) -> Handler:
        async def send(world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
            chat = self._writable_chat(world, p)
            stored = self._input_file(world, p.get(kind), files, kind, kind)
            caption = self._caption(p) if kind not in ("sticker", "video_note") else {}
            markup = self._markup(p)
            reply_to = self._reply_to(chat, p)
            self._flood_check(chat)
            content: JSON = {kind: media_object(world.files, stored, kind), **caption}
            if kind == "sticker" and p.get("emoji"):
                content["sticker"]["emoji"] = p["emoji"]
            return self._deliver(
                world, chat, content, kind=kind, method=method, params=p, markup=markup, reply_to=reply_to, file=stored
            )

        return send

    async def m_send_contact(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._writable_chat(world, p)
        if not p.get("phone_number") or not p.get("first_name"):
            raise bad("phone number and first name must be non-empty")
        markup = self._markup(p)
        self._flood_check(chat)
        contact = {"phone_number": str(p["phone_number"]), "first_name": str(p["first_name"])}
        return self._deliver(
            world,
            chat,
            {"contact": contact},
            kind="contact",
            method="sendContact",
            params=p,
            markup=markup,
            reply_to=self._reply_to(chat, p),
        )

    async def m_send_location(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._writable_chat(world, p)
        markup = self._markup(p)
        self._flood_check(chat)
        loc = {"latitude": float(p.get("latitude", 0)), "longitude": float(p.get("longitude", 0))}
        return self._deliver(
            world,
            chat,
            {"location": loc},
            kind="location",
            method="sendLocation",
            params=p,
            markup=markup,
            reply_to=self._reply_to(chat, p),
        )

    async def m_send_media_group(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> list[JSON]:
        chat = self._writable_chat(world, p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad("wrong number of media in the album: must be 2-10")
        kinds = {m.get("type") for m in media if isinstance(m, dict)}
        if not kinds <= {"photo", "video", "document", "audio"}:
            raise bad("wrong media type in the album")
        if ("document" in kinds and len(kinds) > 1) or ("audio" in kinds and len(kinds) > 1):
            raise bad("documents and audio can't be mixed with other media types in an album")
        prepared: list[tuple[str, StoredFile, JSON, JSON]] = []
        for item in media:
            kind = item["type"]
            stored = self._input_file(world, item.get("media"), files, "media", kind)
            caption = self._caption(item)
            prepared.append((kind, stored, caption, item))
        reply_to = self._reply_to(chat, p)
        self._flood_check(chat)
        group = world.new_media_group_id()
        out = []
        for kind, stored, caption, item in prepared:
            content = {kind: media_object(world.files, stored, kind), "media_group_id": group, **caption}
            out.append(
                self._deliver(
                    world,
                    chat,
                    content,
                    kind=kind,
                    method="sendMediaGroup",
                    params=item,
                    markup=None,
                    reply_to=reply_to,
                    file=stored,
                )
            )
        return out

    def _source_message(self, world: BotWorld, p: JSON, what: str) -> JSON:
        src_chat = self._chat(world, p, key="from_chat_id")
        mid = _int(p, "message_id")
        src = src_chat.messages.get(mid) if mid is not None else None
        if src is None:
            raise bad(f"message to {what} not found")
        return src

    @staticmethod
    def _content_of(src: JSON) -> tuple[str, JSON]:
        """(kind, content fields) of a message being copied or forwarded."""
        for kind in (*MEDIA_KINDS, "contact", "location"):
            if kind in src:
                content = {kind: src[kind]}
                for k in ("caption", "caption_entities"):
                    if k in src:
                        content[k] = src[k]
                return kind, content
        return "text", {k: src[k] for k in ("text", "entities") if k in src}

    async def m_copy_message(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._writable_chat(world, p)
        src = self._source_message(world, p, "copy")
        kind, content = self._content_of(src)
        if "caption" in p and kind != "text":
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._flood_check(chat)
        msg = self._deliver(
            world, chat, content, kind=kind, method="copyMessage", params=p, markup=markup, reply_to=reply_to
        )
        return {"message_id": msg["message_id"]}

    async def m_forward_message(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat = self._writable_chat(world, p)
        src = self._source_message(world, p, "forward")
        kind, content = self._content_of(src)
        sender = src.get("from", world.bot_user)
        content["forward_origin"] = {"type": "user", "date": src["date"], "sender_user": sender}
        self._flood_check(chat)
        return self._deliver(
            world, chat, content, kind=kind, method="forwardMessage", params=p, markup=None, reply_to=None
        )

    async def m_send_chat_action(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        chat = self._writable_chat(world, p)
        action = str(p.get("action") or "")
        if action not in _CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        chat.actions.append(action)
        world.notify()
        return True

    # editing ------------------------------------------------------------------
    def _editable(self, world: BotWorld, p: JSON) -> tuple[Chat, JSON, SentMessage]:
        if p.get("inline_message_id"):
            raise bad("message to edit not found")
        chat = self._writable_chat(world, p)
        mid = _int(p, "message_id")
        msg = chat.messages.get(mid) if mid is not None else None
        if msg is None:
            raise bad("message to edit not found")
        if mid not in chat.from_bot:
            raise bad("message can't be edited")
        return chat, msg, chat.sent_by_id[mid]  # type: ignore[index]

    def _apply_edit(
        self, world: BotWorld, chat: Chat, msg: JSON, record: SentMessage, changes: JSON, markup: JSON | None, p: JSON
    ) -> JSON:
        new_markup = markup if markup and "inline_keyboard" in markup else None
        same = all(msg.get(k) == v for k, v in changes.items() if v is not None) and all(
            k in changes and changes[k] is not None for k in ("entities", "caption_entities") if k in msg
        )
        if same and msg.get("reply_markup") == new_markup:
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        self._flood_check(chat, counts_global=False)
        record.history.append(
            {
                "text": record.text,
                "caption": record.caption,
                "entities": record.entities,
                "reply_markup": record.reply_markup,
                "parse_mode": record.parse_mode,
                "edit_date": record.edit_date,
            }
        )
        for k, v in changes.items():
            if v is None:
                msg.pop(k, None)
            else:
                msg[k] = v
        if new_markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = new_markup
        msg["edit_date"] = now_ts()
        record.edit_date = msg["edit_date"]
        record.text = msg.get("text")
        record.caption = msg.get("caption")
        record.entities = list(msg.get("entities") or msg.get("caption_entities") or [])
        record.reply_markup = new_markup
        if "parse_mode" in p:
            record.parse_mode = p.get("parse_mode") or None
        world.notify()
        return msg

    async def m_edit_text(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat, msg, record = self._editable(world, p)
        if "text" not in msg:
            raise bad("there is no text in the message to edit")
        if p.get("text") in (None, ""):
            raise bad("message text is empty")
        text, ents = self._format(p.get("text"), p.get("parse_mode"), p.get("entities"))
        if not text.strip():
            raise bad("message text is empty")
        markup = self._markup(p)
        return self._apply_edit(world, chat, msg, record, {"text": text, "entities": ents or None}, markup, p)

    async def m_edit_caption(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat, msg, record = self._editable(world, p)
        if "text" in msg:
            raise bad("there is no caption in the message to edit")
        cap = self._caption(p)
        changes = {"caption": cap.get("caption"), "caption_entities": cap.get("caption_entities")}
        return self._apply_edit(world, chat, msg, record, changes, self._markup(p), p)

    async def m_edit_markup(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        chat, msg, record = self._editable(world, p)
        markup = self._markup(p)
        if msg.get("reply_markup") == (markup if markup and "inline_keyboard" in markup else None):
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(world, chat, msg, record, {}, markup, p)

    async def m_delete_message(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        chat = self._chat(world, p)
        mid = _int(p, "message_id")
        if mid is None or mid not in chat.messages:
            raise bad("message to delete not found")
        del chat.messages[mid]
        if mid in chat.sent_by_id:
            chat.sent_by_id[mid].deleted = True
        world.notify()
        return True

    # callbacks ----------------------------------------------------------------
    async def m_answer_callback(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        cb = world.callbacks.get(str(p.get("callback_query_id") or ""))
        if cb is None or cb.answered or time.monotonic() - cb.created > self.callback_ttl:
            raise bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad("MESSAGE_TOO_LONG")
        cb.answered = True
        chat = world.chats[cb.chat_id]
        chat.answers.append(
            {
                "callback_query_id": cb.id,
                "message_id": cb.message_id,
                "data": cb.data,
                "text": text,
                "show_alert": _bool(p, "show_alert"),
                "url": p.get("url"),
                "cache_time": _int(p, "cache_time", 0),
            }
        )
        world.notify()
        return True

    # commands -----------------------------------------------------------------
    @staticmethod
    def _scope_key(p: JSON) -> tuple[str, str]:
        scope = p.get("scope")
        if isinstance(scope, dict):
            key = json.dumps(scope, sort_keys=True)
        else:
            key = json.dumps({"type": "default"})
        return key, str(p.get("language_code") or "")

    async def m_set_my_commands(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("commands list must be an array of at most 100 items")
        for c in commands:
            if not isinstance(c, dict) or not re.match(r"^[a-z0-9_]{1,32}$", str(c.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        lang = str(p.get("language_code") or "")
        if lang and not re.match(r"^[a-z]{2}$", lang):
            raise bad("invalid language code specified")
        key = self._scope_key(p)
        if commands:
            world.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            world.commands.pop(key, None)
        return True

    async def m_get_my_commands(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> list[JSON]:
        return list(world.commands.get(self._scope_key(p), []))

    async def m_delete_my_commands(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> bool:
        world.commands.pop(self._scope_key(p), None)
        return True

    def commands_for(self, language_code: str = "", scope: JSON | None = None, token: str | None = None) -> list[JSON]:
        """Driver shortcut: the command list stored for (scope, language)."""
        key = self._scope_key({"scope": scope, "language_code": language_code})
        return list(self._world(token).commands.get(key, []))

    # files --------------------------------------------------------------------
    async def m_get_file(self, world: BotWorld, p: JSON, files: dict[str, Upload]) -> JSON:
        f = world.files.get(str(p.get("file_id") or ""))
        if f is None:
            raise bad("invalid file_id")
        if f.size > 20 * 1024 * 1024:
            raise bad("file is too big")
        return f.as_file()


async def serve_sandbox(host: str = "127.0.0.1", port: int = 8081, token: str = "123456:SANDBOX") -> BotApiEmulator:
    """Start an emulator with the browser sandbox; point the bot at ``emu.base_url``.

    The page is at ``{base_url}/sandbox/``.  The control API has no authentication, so keep
    ``host`` on loopback.
    """
    emu = BotApiEmulator(token, host=host, port=port, sandbox_ui=True, bot_name="Claimdesk (sandbox)")
    await emu.start()
    log.info("Telegram sandbox: %s/sandbox/ (Bot API at %s)", emu.base_url, emu.base_url)
    return emu
