"""The human side: a person acting in a chat with the bot (:class:`Person`), and
:class:`UserDriver`, a user in their private chat with the bot. Group members are in groups.py."""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import time
from typing import Any

from bot.sandbox.chats import Chat, PrivateChat, SentMessage, UserProfile
from bot.sandbox.entities import detect_entities
from bot.sandbox.files import MEDIA_KINDS, media_object, tiny_png
from bot.sandbox.protocol import JSON, now_ts
from bot.sandbox.world import BotWorld, Callback

MessageRef = SentMessage | JSON | int

_DEFAULT_BYTES = {
    "document": b"%PDF-1.4\n% sandbox document\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
    "video": b"\x00\x00\x00\x18ftypmp42sandbox-video",
    "animation": b"\x00\x00\x00\x18ftypmp42sandbox-gif",
    "voice": b"OggS\x00sandbox-voice",
    "audio": b"ID3\x03\x00sandbox-audio",
    "sticker": b"RIFF\x00\x00\x00\x00WEBPsandbox",
    "video_note": b"\x00\x00\x00\x18ftypmp42sandbox-note",
}


def message_id(message: MessageRef) -> int:
    if isinstance(message, int):
        return message
    if isinstance(message, SentMessage):
        return message.message_id
    return int(message["message_id"])


class Person:
    """One person acting in one chat: sends texts, files, contacts, locations and albums, presses
    the inline buttons of the bot's messages, edits their own texts. A subclass says where a new
    message goes (``_post``)."""

    def __init__(self, world: BotWorld, chat: Chat, person: UserProfile) -> None:
        self.world = world
        self.chat = chat
        self.person = person

    @property
    def id(self) -> int:
        return self.person.id

    @property
    def profile(self) -> JSON:
        """This person's User object."""
        return self.person.as_user()

    def _post(self, content: JSON, reply_to: MessageRef | None = None) -> JSON:
        raise NotImplementedError

    async def send_text(self, text: str, *, reply_to: MessageRef | None = None) -> JSON:
        content: JSON = {"text": text}
        if ents := detect_entities(text):
            content["entities"] = ents
        return self._post(content, reply_to)

    async def _send_file(
        self,
        kind: str,
        data: bytes | None,
        *,
        caption: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        media_extra: JSON | None = None,
        media_group_id: str | None = None,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        assert kind in MEDIA_KINDS, kind
        if data is None:
            data = tiny_png(64, 48) if kind == "photo" else _DEFAULT_BYTES[kind]
        stored = self.world.files.add(data, kind, file_name=file_name, mime_type=mime_type)
        media = media_object(self.world.files, stored, kind)
        if media_extra:
            media.update(media_extra)
        content: JSON = {kind: media}
        if caption:
            content["caption"] = caption
            if ents := detect_entities(caption):
                content["caption_entities"] = ents
        if media_group_id:
            content["media_group_id"] = media_group_id
        return self._post(content, reply_to)

    async def send_photo(
        self, data: bytes | None = None, caption: str | None = None, *, reply_to: MessageRef | None = None
    ) -> JSON:
        return await self._send_file("photo", data, caption=caption, reply_to=reply_to)

    async def send_document(
        self,
        data: bytes | None = None,
        file_name: str = "document.pdf",
        mime_type: str | None = None,
        caption: str | None = None,
        *,
        reply_to: MessageRef | None = None,
    ) -> JSON:
        return await self._send_file(
            "document",
            data,
            caption=caption,
            file_name=file_name,
            mime_type=mime_type or guess_mime(file_name),
            reply_to=reply_to,
        )

    async def send_video(self, data: bytes | None = None, caption: str | None = None) -> JSON:
        return await self._send_file("video", data, caption=caption, mime_type="video/mp4")

    async def send_voice(self, data: bytes | None = None) -> JSON:
        return await self._send_file("voice", data, mime_type="audio/ogg")

    async def send_audio(self, data: bytes | None = None, file_name: str = "audio.mp3") -> JSON:
        return await self._send_file("audio", data, file_name=file_name, mime_type="audio/mpeg")

    async def send_sticker(self, data: bytes | None = None, emoji: str = "👍") -> JSON:
        return await self._send_file("sticker", data, media_extra={"emoji": emoji})

    async def send_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        own: bool = True,
    ) -> JSON:
        """Share a contact; ``own=True`` is what a ``request_contact`` keyboard button sends."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name or self.person.first_name}
        if last_name:
            contact["last_name"] = last_name
        if own:
            contact["user_id"] = self.id
        return self._post({"contact": contact})

    async def send_location(self, latitude: float, longitude: float) -> JSON:
        return self._post({"location": {"latitude": latitude, "longitude": longitude}})

    async def send_album(self, items: list[tuple[Any, ...]], caption: str | None = None) -> list[JSON]:
        """Several media sharing one media_group_id, one update each, like Telegram.

        items: ("photo", bytes) | ("video", bytes) | ("document", bytes, "name.pdf"); the caption
        goes on the first item, as Telegram clients do.
        """
        group = self.world.new_media_group_id()
        out: list[JSON] = []
        for i, item in enumerate(items):
            kind, data = item[0], item[1]
            name = item[2] if len(item) > 2 else None
            out.append(
                await self._send_file(
                    kind,
                    data,
                    caption=caption if i == 0 else None,
                    file_name=name,
                    mime_type=guess_mime(name) if name else None,
                    media_group_id=group,
                )
            )
        return out

    async def press(self, message: MessageRef, data: str | None = None, *, text: str | None = None) -> str:
        """Press an inline button of a bot message (by callback_data or by label); returns the query id."""
        mid = message_id(message)
        sent = self.chat.sent_by_id.get(mid)
        if sent is None or sent.deleted:
            raise LookupError(f"bot message {mid} does not exist in chat {self.chat.id}")
        matches = [
            b
            for b in sent.buttons
            if "callback_data" in b
            and (data is None or b["callback_data"] == data)
            and (text is None or b["text"] == text)
        ]
        if not matches:
            raise LookupError(f"message {mid} has no callback button data={data!r} text={text!r}: {sent.buttons}")
        cb = Callback(
            id=str(secrets.randbits(62)),
            chat_id=self.chat.id,
            message_id=mid,
            data=matches[0]["callback_data"],
            created=time.monotonic(),
            user_id=self.id,
        )
        self.world.callbacks[cb.id] = cb
        self.world.push_update(
            "callback_query",
            {
                "id": cb.id,
                "from": self.profile,
                "message": self.chat.messages[mid],
                "chat_instance": self.world.chat_instance(self.chat.id),
                "data": cb.data,
            },
        )
        return cb.id

    async def edit(self, message: MessageRef, text: str) -> JSON:
        """Edit one of this person's own text messages (an ``edited_message`` update)."""
        mid = message_id(message)
        msg = self.chat.messages.get(mid)
        if msg is None or msg.get("from", {}).get("id") != self.id or "text" not in msg:
            raise LookupError(f"text message {mid} of user {self.id} not found in chat {self.chat.id}")
        msg["text"] = text
        msg.pop("entities", None)
        if ents := detect_entities(text):
            msg["entities"] = ents
        msg["edit_date"] = now_ts()
        self.world.tell_edit(self.chat, msg)
        return msg

    async def download(self, file_id: str) -> bytes:
        f = self.world.files.get(file_id)
        if f is None:
            raise LookupError(file_id)
        return f.data


class UserDriver(Person):
    """A user in the private chat with the bot: sends, presses, edits, reads what the bot sent."""

    def __init__(self, world: BotWorld, chat: PrivateChat) -> None:
        super().__init__(world, chat, chat.user)
        self.chat: PrivateChat = chat

    def _post(self, content: JSON, reply_to: MessageRef | None = None) -> JSON:
        # Writing to a bot you blocked restarts it in Telegram clients.
        if self.chat.blocked:
            self.world.set_blocked(self.id, False)
        return self.world.user_message(self.chat, content, reply_to=message_id(reply_to) if reply_to else None)

    # -- what the user sees -----------------------------------------------------------------------
    @property
    def messages(self) -> list[SentMessage]:
        """Every message the bot sent to this chat, oldest first (deleted ones flagged)."""
        return list(self.chat.sent)

    @property
    def last(self) -> SentMessage | None:
        live = [m for m in self.chat.sent if not m.deleted]
        return live[-1] if live else None

    @property
    def answers(self) -> list[JSON]:
        """answerCallbackQuery calls for this user's button presses."""
        return list(self.chat.answers)

    @property
    def actions(self) -> list[str]:
        return list(self.chat.actions)

    @property
    def keyboard(self) -> JSON | None:
        """The reply keyboard currently shown to the user (None after remove_keyboard)."""
        return self.chat.reply_keyboard

    @property
    def blocked(self) -> bool:
        return self.chat.blocked

    def unread(self) -> list[SentMessage]:
        new = self.chat.sent[self.chat.read_cursor :]
        self.chat.read_cursor = len(self.chat.sent)
        return new

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[SentMessage]:
        """The next ``n`` messages the bot sends here (unread ones count); marks them read."""
        try:
            await self.world.wait_for(lambda: len(self.chat.sent) - self.chat.read_cursor >= n, timeout)
        except TimeoutError:
            got = [m.content for m in self.chat.sent[self.chat.read_cursor :]]
            raise TimeoutError(f"user {self.id}: expected {n} bot message(s) within {timeout}s, got {got}") from None
        start = self.chat.read_cursor
        self.chat.read_cursor = start + n
        return self.chat.sent[start : start + n]

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """Wait until ``predicate(self)`` is truthy (e.g. an edit arrived); returns its value."""
        return await self.world.wait_for(lambda: predicate(self), timeout)

    async def wait_for_answer(self, callback_id: str, timeout: float = 5.0) -> JSON:
        def find() -> JSON | None:
            return next((a for a in self.chat.answers if a["callback_query_id"] == callback_id), None)

        return await self.world.wait_for(find, timeout)

    # -- acting ---------------------------------------------------------------------------------
    async def tap_keyboard(self, text: str) -> JSON:
        """Tap a reply-keyboard button: sends its text, or the own contact for request_contact."""
        kb = self.chat.reply_keyboard
        buttons = [b if isinstance(b, dict) else {"text": b} for row in (kb or {}).get("keyboard", []) for b in row]
        button = next((b for b in buttons if b.get("text") == text), None)
        if button is None:
            raise LookupError(f"no reply keyboard button {text!r}; keyboard: {buttons}")
        if kb and kb.get("one_time_keyboard"):
            self.chat.reply_keyboard = None
        if button.get("request_contact"):
            return await self.send_contact(f"+7900{self.id:07d}"[-12:])
        return await self.send_text(text)

    def block(self) -> None:
        self.world.set_blocked(self.id, True)

    def unblock(self) -> None:
        self.world.set_blocked(self.id, False)

    async def sleep_until_quiet(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        """Return once the bot has sent nothing here for ``quiet`` seconds (for "no reply" checks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            before = len(self.chat.sent)
            await asyncio.sleep(quiet)
            if len(self.chat.sent) == before:
                return


def guess_mime(name: str | None) -> str:
    return (mimetypes.guess_type(name or "")[0]) or "application/octet-stream"
