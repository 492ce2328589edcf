"""Delivering the staff chat's topic rows (shared.topics.posts): the topic is found or created when
its row comes up, so a topic deleted by hand is re-created by the next event, and a group that
refuses topics gets flat posts instead (said once in the log, by shared.topics.lane).

Every call here goes through the worker's pacer, whose group lane keeps the staff group under
Telegram's 20 messages a minute without touching the customers' chats (bot/delivery/pacing.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.pacing import Pacer
from shared.outbox.queue import LeasedMessage
from shared.topics import lane
from shared.topics.lane import TopicState

log = logging.getLogger("claimdesk.delivery")

# Telegram's answers meaning the group cannot have topics for us.
NO_TOPICS = ("not a forum", "not enough rights", "chat_not_forum", "topics are disabled")
# ... and meaning the topic is gone (deleted by hand).
THREAD_GONE = ("message thread not found", "topic_id_invalid", "topic_deleted", "thread not found")
NOT_MODIFIED = "topic_not_modified"


def _says(exc: TelegramBadRequest, texts: tuple[str, ...]) -> bool:
    message = exc.message.lower()
    return any(t in message for t in texts)


class _TopicGone(Exception):
    pass


class TopicSender:
    """One topic row at a time (the staff chat's rows are sent in order, one after another)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, bot: Bot, pacer: Pacer, counts: Counter[str]
    ) -> None:
        self.sessions = sessions
        self.bot = bot
        self.pacer = pacer
        self.counts = counts

    async def _paced(self, chat_id: int, call: Callable[[], Awaitable[Any]]) -> Any:
        await self.pacer.turn(chat_id)
        return await call()

    async def deliver(self, message: LeasedMessage) -> tuple[int | None, str | None]:
        """Send the row; returns the Telegram message id (if any) and a note for the outbox row.
        Telegram's errors other than the topic's own go up to the worker's policy (retry, fail)."""
        claim_id = int(message.payload["claim_id"])
        state = await lane.topic_state(self.sessions, claim_id=claim_id)
        if state is None:
            return None, "the claim has no topic"
        if not state.forum:
            return await self._flat(message, state)
        for _ in range(2):  # a second time after re-creating a topic deleted by hand
            try:
                thread_id = await self._ensure_topic(state, message)
                if thread_id is None:
                    return await self._flat(message, await self._state(claim_id))
                if message.payload["op"] == "open":
                    return None, None  # the card went with the topic (if it had to be created)
                return await self._do(message, state, thread_id)
            except _TopicGone:
                state = await self._state(claim_id)
        return None, "the topic kept disappearing"

    async def _state(self, claim_id: int) -> TopicState:
        state = await lane.topic_state(self.sessions, claim_id=claim_id)
        assert state is not None
        return state

    async def _ensure_topic(self, state: TopicState, message: LeasedMessage) -> int | None:
        """The topic's thread, created with its card when there is none; None: no topics here."""
        if state.thread_id is not None:
            return state.thread_id
        try:
            topic = await self._paced(
                state.chat_id,
                lambda: self.bot.create_forum_topic(
                    state.chat_id, state.want_name, icon_custom_emoji_id=state.want_icon
                ),
            )
        except TelegramBadRequest as exc:
            if _says(exc, NO_TOPICS):
                await lane.group_refused_topics(self.sessions, chat_id=state.chat_id, reason=exc.message)
                return None
            raise
        thread_id = int(topic.message_thread_id)
        await lane.topic_created(
            self.sessions, claim_id=state.claim_id, thread_id=thread_id, name=state.want_name, icon=state.want_icon
        )
        self.counts["topics_created"] += 1
        await self._send_text(state.chat_id, thread_id, state.card_text, state.card_markup, claim_id=state.claim_id)
        if state.want_closed:
            await self._paced(state.chat_id, lambda: self.bot.close_forum_topic(state.chat_id, thread_id))
            await lane.topic_synced(
                self.sessions, claim_id=state.claim_id, name=state.want_name, icon=state.want_icon, closed=True
            )
        return thread_id

    async def _send_text(
        self, chat_id: int, thread_id: int | None, text: str, markup: dict[str, Any] | None, *, claim_id: int
    ) -> Message:
        keyboard = InlineKeyboardMarkup.model_validate(markup) if markup else None
        try:
            return await self._paced(
                chat_id,
                lambda: self.bot.send_message(
                    chat_id, text, message_thread_id=thread_id, parse_mode="HTML", reply_markup=keyboard
                ),
            )
        except TelegramBadRequest as exc:
            if thread_id is not None and _says(exc, THREAD_GONE):
                await lane.topic_gone(self.sessions, claim_id=claim_id, thread_id=thread_id)
                raise _TopicGone from exc
            raise

    async def _do(self, message: LeasedMessage, state: TopicState, thread_id: int) -> tuple[int | None, str | None]:
        op = message.payload["op"]
        chat_id = state.chat_id
        if op == "sync":
            await self._sync(state, thread_id)
            return None, None
        if op == "post":
            sent = await self._send_text(
                chat_id,
                thread_id,
                str(message.payload.get("text") or ""),
                message.payload.get("reply_markup"),
                claim_id=state.claim_id,
            )
            return sent.message_id, None
        if op == "copy":
            return await self._copy(message, state, thread_id)
        return None, f"unknown topic operation {op!r}"

    async def _sync(self, state: TopicState, thread_id: int) -> None:
        chat_id = state.chat_id
        try:
            if state.name != state.want_name or state.icon != state.want_icon:
                await self._paced(
                    chat_id,
                    lambda: self.bot.edit_forum_topic(
                        chat_id, thread_id, name=state.want_name, icon_custom_emoji_id=state.want_icon
                    ),
                )
            if state.closed != state.want_closed:
                if state.want_closed:
                    await self._paced(chat_id, lambda: self.bot.close_forum_topic(chat_id, thread_id))
                else:
                    await self._paced(chat_id, lambda: self.bot.reopen_forum_topic(chat_id, thread_id))
        except TelegramBadRequest as exc:
            if _says(exc, THREAD_GONE):
                await lane.topic_gone(self.sessions, claim_id=state.claim_id, thread_id=thread_id)
                raise _TopicGone from exc
            if not _says(exc, (NOT_MODIFIED,)):
                raise
        await lane.topic_synced(
            self.sessions, claim_id=state.claim_id, name=state.want_name, icon=state.want_icon, closed=state.want_closed
        )

    async def _copy(self, message: LeasedMessage, state: TopicState, thread_id: int) -> tuple[int | None, str | None]:
        chat_id = state.chat_id
        payload = message.payload
        following = await lane.following_texts(self.sessions, message) if payload.get("combinable") else []
        if following:
            # The claim's texts piled up behind the group's limit: one post for all of them.
            texts = [str(payload.get("text") or ""), *(body for _, body in following)]
            sent = await self._send_text(chat_id, thread_id, lane.combined_text(texts), None, claim_id=state.claim_id)
            await lane.mark_combined(
                self.sessions, ids=[i for i, _ in following], into=message.id, tg_message_id=sent.message_id
            )
            self.counts["topic_combined"] += len(following)
            return sent.message_id, f"with {len(following)} more texts of the claim"
        try:
            copied = await self._paced(
                chat_id,
                lambda: self.bot.copy_message(
                    chat_id, int(payload["from_chat_id"]), int(payload["message_id"]), message_thread_id=thread_id
                ),
            )
            return copied.message_id, None
        except TelegramBadRequest as exc:
            if _says(exc, THREAD_GONE):
                await lane.topic_gone(self.sessions, claim_id=state.claim_id, thread_id=thread_id)
                raise _TopicGone from exc
            if not payload.get("text"):
                raise
            # The customer deleted the message meanwhile: the topic still gets what was stored.
            sent = await self._send_text(
                chat_id, thread_id, lane.combined_text([payload["text"]]), None, claim_id=state.claim_id
            )
            return sent.message_id, f"copy refused ({exc.message}): sent as stored"

    async def _flat(self, message: LeasedMessage, state: TopicState) -> tuple[int | None, str | None]:
        """No topics in the group: today's flat notifications (a new claim, a dispute, a low rating,
        an overdue claim); the rest of a claim's topic traffic has nowhere to go and is skipped."""
        payload = message.payload
        if payload["op"] == "open":
            text = str(payload.get("flat_text") or state.card_text)
        elif payload["op"] == "post" and payload.get("flat"):
            text = str(payload.get("text") or "")
        else:
            return None, "no topics in the staff group: not posted"
        sent = await self._send_text(state.chat_id, None, text, None, claim_id=state.claim_id)
        return sent.message_id, "posted flat: no topics in the staff group"
