"""The bot's update pipeline, outermost first (after aiogram's errors and user-context ones):

1. `UpdateTransactionMiddleware`: per-chat isolation lock (in process, then a PostgreSQL advisory
   lock taken first in the transaction, across processes), one session and one transaction per
   update, the update id recorded in it (a redelivery stores nothing twice), FSM changes written
   in it, commit after the handler. The chat's lock, the update id, the customer and the FSM
   record take one round trip (`start_update`) and are handed to steps 2 and 3; a database
   failure tells the customer to try again in a minute and, in webhook mode, is re-raised so
   Telegram gets no 2xx and delivers again.
2. aiogram's `FSMContextMiddleware` (no isolation of its own: step 1 holds the lock across the
   commit, so the next update of a chat always reads the state the previous one committed).
3. `CustomerMiddleware`: the customer behind the update and their translator (`t`).

Replies that are not answers to a question (acknowledgements of stored messages, "try again")
go through `ReplyThrottle`, so a customer sending 100 messages a second has all of them stored
and gets only a few answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg
from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, EventContext
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.types import Chat, TelegramObject, Update
from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm import UpdateScope, current_scope
from shared.bot_state.service import claim_update, lock_chat, start_update
from shared.customers.telegram import customer_for_telegram_user
from shared.db import driver_transaction
from shared.i18n import get_translator, normalize_language
from shared.ratelimit import redis_limits_storage

log = logging.getLogger(__name__)

PREFETCHED_CUSTOMER = "claimdesk_prefetched_customer"

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
)


class ReplyThrottle:
    """At most `limit` unsolicited replies per chat per `seconds` (moving window).

    In this process by default; with REDIS_URL the window lives in Redis (the `limits` library)
    and is shared by every bot process. The in-process window is a deque per chat rather than
    `limits`' async memory storage, which expires keys through a thread per key and, with
    hundreds of chats, spent most of the bot's CPU on thread hand-offs (bench/bot_ingest.py).
    """

    def __init__(self, limit: int = 2, seconds: int = 5, storage: Storage | None = None) -> None:
        self.limit = limit
        self.seconds = seconds
        self.item = RateLimitItemPerSecond(limit, seconds)
        self.limiter = MovingWindowRateLimiter(storage) if storage is not None else None
        self._hits: dict[str, deque[float]] = {}

    async def allow(self, chat_id: int, kind: str = "ack") -> bool:
        if self.limiter is not None:
            return await self.limiter.hit(self.item, kind, str(chat_id))
        now = time.monotonic()
        key = f"{kind}:{chat_id}"
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) > 10_000:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.seconds]:
            del self._hits[key]

    @classmethod
    def from_settings(cls, redis_url: str | None) -> ReplyThrottle:
        if redis_url:
            return cls(storage=redis_limits_storage(redis_url, key_prefix="claimdesk-bot"))
        return cls()


def update_chat(update: Update) -> Chat | None:
    """The chat an update happens in (a callback's: the chat of the message it is attached to)."""
    if update.message is not None:
        return update.message.chat
    if update.edited_message is not None:
        return update.edited_message.chat
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat
    return None


def is_private(update: Update) -> bool:
    """False for an update from a group, supergroup or channel; True for a private chat and for
    updates that have no chat (an inline message's callback happens between the bot and the user)."""
    chat = update_chat(update)
    return chat is None or chat.type == "private"


class UpdateTransactionMiddleware(BaseMiddleware):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        isolation: BaseEventIsolation,
        *,
        webhook: bool,
        default_language: str,
        fsm_key: Callable[[Bot, dict[str, Any]], str | None] | None = None,
        transactions: int = 10,
    ) -> None:
        self.sessions = sessions
        # Updates in a transaction at once: each holds a pool connection, so no more than the
        # pool keeps (beyond, each would open and close an overflow connection around it).
        self.transactions = asyncio.Semaphore(transactions)
        self.isolation = isolation
        # The FSM record key of an update when the FSM lives in PostgreSQL (read up front).
        self.fsm_key = fsm_key
        self.webhook = webhook
        self.default_language = default_language
        # "Try again" is said at most once a minute per chat, however often Telegram redelivers.
        self.outage_replies = ReplyThrottle(limit=1, seconds=60)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = cast(Update, event)
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        bot: Bot = data["bot"]
        chat_id = context.chat_id if context else None
        user_id = context.user_id if context else None
        if chat_id is None and user_id is None:
            async with self.transactions:
                return await self._handle(handler, update, data, None)
        key = StorageKey(bot_id=bot.id, chat_id=chat_id or user_id or 0, user_id=user_id or chat_id or 0)
        # The in-process lock first (a chat's burst waits here, not holding a connection), then
        # the database lock in the transaction, which holds across bot processes.
        async with self.isolation.lock(key), self.transactions:
            return await self._handle(handler, update, data, key.chat_id)

    async def _handle(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: Update,
        data: dict[str, Any],
        lock_chat_id: int | None,
    ) -> Any:
        session = self.sessions()
        scope = UpdateScope(session)
        token = current_scope.set(scope)
        try:
            async with driver_transaction(session):
                if not is_private(update):
                    # The customers' bot talks in private chats only: a group must never become
                    # where a customer's claims are sent. The id is still recorded (handled).
                    if lock_chat_id is not None:
                        await lock_chat(session, chat_id=lock_chat_id)
                    await claim_update(session, update_id=update.update_id)
                    log.info("update %s from a non-private chat; ignored", update.update_id)
                    return None
                if not await self._start(session, scope, update, data, lock_chat_id):
                    log.info("update %s was handled before; skipped", update.update_id)
                    return None
                data["session"] = session
                result = await handler(update, data)
                await scope.flush_fsm()
            await scope.write_committed()
            await self._send_replies(update, scope)
            return result
        except DATABASE_ERRORS as exc:
            log.error("update %s: database unavailable: %s", update.update_id, str(exc).splitlines()[0] or exc)
            await self._tell_try_later(data)
            if self.webhook:
                raise  # no 2xx: Telegram keeps the update and delivers it again
            return None
        finally:
            current_scope.reset(token)
            try:
                await session.close()
            except DATABASE_ERRORS:
                pass

    @staticmethod
    async def _send_replies(update: Update, scope: UpdateScope) -> None:
        """The replies a handler deferred (`bot.fsm.after_commit`), now that what they report is
        committed. A failure is logged and the rest still go: the update is handled, and the
        customer sees the stored result the next time they look (My claims)."""
        for method in scope.replies:
            try:
                await method
            except Exception as exc:
                log.warning("update %s: reply %s not sent: %s", update.update_id, method.__api_method__, exc)
        scope.replies.clear()

    async def _start(
        self, session: AsyncSession, scope: UpdateScope, update: Update, data: dict[str, Any], lock_chat_id: int | None
    ) -> bool:
        """Take the chat's lock (the update's first statement: it waits for the previous update
        of the chat in another process to commit) and record the update id (False: handled
        before); with a user, in the same round trip, read the customer (for
        `CustomerMiddleware`) and the FSM record (for the storage)."""
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        user = context.user if context else None
        if user is None or user.is_bot:
            if lock_chat_id is not None:
                await lock_chat(session, chat_id=lock_chat_id)
            return await claim_update(session, update_id=update.update_id)
        key = self.fsm_key(data["bot"], data) if self.fsm_key is not None else None
        start = await start_update(
            session, update_id=update.update_id, telegram_user_id=user.id, fsm_key=key or "", lock_chat_id=lock_chat_id
        )
        if not start.fresh:
            return False
        if key is not None:
            scope.preload(key, start.fsm_state, start.fsm_data)
        data[PREFETCHED_CUSTOMER] = start.customer
        return True

    async def _tell_try_later(self, data: dict[str, Any]) -> None:
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        if context is None or context.chat_id is None:
            return
        if not await self.outage_replies.allow(context.chat_id, "outage"):
            return
        language = normalize_language(context.user.language_code if context.user else None, self.default_language)
        bot: Bot = data["bot"]
        try:
            await bot.send_message(context.chat_id, get_translator(language)("bot.error.try_later"))
        except Exception as exc:  # the customer cannot be told; the update is still not acknowledged
            log.warning("could not tell chat %s to try later: %s", context.chat_id, exc)


class CustomerMiddleware(BaseMiddleware):
    """`customer` and `t` (their translator) for every update that has a user."""

    def __init__(self, default_language: str) -> None:
        self.default_language = default_language

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        user = context.user if context else None
        session: AsyncSession | None = data.get("session")
        if user is None or user.is_bot or session is None:
            data["t"] = get_translator(self.default_language)
            return await handler(event, data)
        customer = await customer_for_telegram_user(
            session,
            telegram_user_id=user.id,
            chat_id=context.chat_id if context and context.chat_id else user.id,
            private_chat=context is None or context.chat is None or context.chat.type == "private",
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            language_code=user.language_code,
            default_language=self.default_language,
            looked_up=PREFETCHED_CUSTOMER in data,
            found=data.pop(PREFETCHED_CUSTOMER, None),
        )
        data["customer"] = customer
        data["t"] = get_translator(customer.language)
        return await handler(event, data)
