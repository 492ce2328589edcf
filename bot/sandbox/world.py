"""State of one emulated bot: users, private chats, messages, files, pending updates."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.files import FileStore
from bot.sandbox.ids import clock_start
from bot.sandbox.protocol import JSON, now_ts


@dataclass
class SentMessage:
    """A message the bot sent, as the user sees it now (edits update it in place)."""

    message_id: int
    chat_id: int
    kind: str  # text, photo, document, video, voice, audio, sticker, animation, contact, ...
    date: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None  # as sent: inline, reply keyboard, remove/force reply
    media_group_id: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[JSON] = field(default_factory=list)  # earlier versions, oldest first
    raw: JSON = field(default_factory=dict)  # the Message object as the Bot API returned it
    method: str = "sendMessage"

    @property
    def content(self) -> str | None:
        """Text, or caption of a media message."""
        return self.text if self.text is not None else self.caption

    @property
    def buttons(self) -> list[JSON]:
        """Inline keyboard buttons, row by row flattened."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]

    @property
    def keyboard_buttons(self) -> list[JSON]:
        """Reply keyboard buttons (strings normalised to ``{"text": ...}``)."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return []
        return [b if isinstance(b, dict) else {"text": b} for row in self.reply_markup["keyboard"] for b in row]

    def button(self, text: str) -> JSON:
        for b in self.buttons:
            if b.get("text") == text:
                return b
        raise LookupError(f"no inline button {text!r} in message {self.message_id}: {self.buttons}")


@dataclass
class UserProfile:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False

    def as_user(self) -> JSON:
        d: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (v := getattr(self, key)) is not None:
                d[key] = v
        if self.is_premium:
            d["is_premium"] = True
        return d

    def as_chat(self) -> JSON:
        d: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        return d


@dataclass
class Chat:
    """A private chat between the bot and one user."""

    user: UserProfile
    next_message_id: int = field(default_factory=clock_start)  # never repeats across restarts (ids.py)
    messages: dict[int, JSON] = field(default_factory=dict)  # every live message, both sides
    from_bot: set[int] = field(default_factory=set)
    sent: list[SentMessage] = field(default_factory=list)
    sent_by_id: dict[int, SentMessage] = field(default_factory=dict)
    read_cursor: int = 0
    answers: list[JSON] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    reply_keyboard: JSON | None = None  # what the user's keyboard currently shows
    blocked: bool = False
    deactivated: bool = False
    started: bool = False  # the user has written to the bot at least once

    @property
    def id(self) -> int:
        return self.user.id

    def new_message_id(self) -> int:
        # Private chats: one sequence for both sides, like Telegram.
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


@dataclass
class Callback:
    id: str
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answered: bool = False


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class BotWorld:
    """Everything one bot token sees.  Mutations call ``notify`` so waiters wake up."""

    def __init__(self, token: str, *, first_name: str = "Sandbox Bot", username: str | None = None) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else int(hashlib.sha1(token.encode()).hexdigest()[:8], 16)
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username or f"sandbox_{self.bot_id}_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, Chat] = {}
        self.files = FileStore()
        self.updates: list[JSON] = []
        self.next_update_id = clock_start()  # never repeats across restarts (ids.py)
        self.callbacks: dict[str, Callback] = {}
        self.webhook: Webhook | None = None
        self.allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.description: dict[str, str] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self.version = 0  # bumped on every change; the sandbox page long-polls on it
        self._media_group_seq = itertools.count(clock_start())

    # -- change notification -------------------------------------------------------------
    def notify(self) -> None:
        self.version += 1
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_change(self, timeout: float) -> bool:
        """Sleep until the next mutation or ``timeout``; False on timeout."""
        if timeout <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            await self.wait_change(remaining)
        return result

    # -- users and chats -------------------------------------------------------------------
    def chat_for(self, profile: UserProfile) -> Chat:
        chat = self.chats.get(profile.id)
        if chat is None:
            chat = Chat(user=profile)
            self.chats[profile.id] = chat
        else:
            chat.user = profile
        return chat

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """The user blocks (or unblocks) the bot; Telegram tells the bot with a my_chat_member update."""
        chat = self.chats.get(user_id)
        if chat is None:
            raise LookupError(f"unknown user {user_id}")
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot_member = {"user": self.bot_user}
        self.push_update(
            "my_chat_member",
            {
                "chat": chat.user.as_chat(),
                "from": chat.user.as_user(),
                "date": now_ts(),
                "old_chat_member": {**bot_member, "status": old, **({"until_date": 0} if old == "kicked" else {})},
                "new_chat_member": {**bot_member, "status": new, **({"until_date": 0} if new == "kicked" else {})},
            },
        )

    def new_media_group_id(self) -> str:
        return str(next(self._media_group_seq))

    def chat_instance(self, chat_id: int) -> str:
        return str(int(hashlib.sha1(f"{self.bot_id}:{chat_id}".encode()).hexdigest()[:15], 16))

    # -- updates ---------------------------------------------------------------------------
    def push_update(self, kind: str, payload: JSON) -> JSON:
        # A snapshot: later edits of the stored message must not change an undelivered update.
        update = {"update_id": self.next_update_id, kind: copy.deepcopy(payload)}
        self.next_update_id += 1
        self.updates.append(update)
        self.notify()
        return update

    def update_allowed(self, update: JSON, allowed: list[str] | None) -> bool:
        if not allowed:
            # Telegram's default excludes these three update types.
            return not any(k in update for k in ("chat_member", "message_reaction", "message_reaction_count"))
        return any(k in update for k in allowed)

    # -- messages from the user side ------------------------------------------------------------
    def user_message(self, chat: Chat, content: JSON, *, reply_to: int | None = None) -> JSON:
        chat.started = True
        mid = chat.new_message_id()
        msg: JSON = {
            "message_id": mid,
            "from": chat.user.as_user(),
            "chat": chat.user.as_chat(),
            "date": now_ts(),
            **content,
        }
        if reply_to is not None and reply_to in chat.messages:
            msg["reply_to_message"] = strip_reply(chat.messages[reply_to])
        chat.messages[mid] = msg
        return msg


def strip_reply(msg: JSON) -> JSON:
    """A message as embedded in ``reply_to_message`` (Telegram does not nest further)."""
    return {k: v for k, v in msg.items() if k != "reply_to_message"}
