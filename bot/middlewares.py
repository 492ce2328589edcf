"""The bot's update pipeline, outermost first (after aiogram's errors and user-context ones):

1. `UpdateTransactionMiddleware`: one session and one transaction per update, opened and
   committed here and nowhere else (`async with sessions() as session, session.begin()`, as in
   aiogram's examples). Its first statement takes the chat's advisory lock (the updates of a chat
   take turns across bot processes: a double tap on Submit registers one claim); the next
   records the update id (a redelivered update is skipped: stored once, answered once). After
   the commit it makes the Redis writes and sends the replies the handlers queued
   (`bot.update_scope`). A database outage is handled here (`bot.errors`); any other error goes
   on to the dispatcher's errors handler.
2. aiogram's `FSMContextMiddleware` (no isolation of its own: step 1 holds the chat's turn across
   the commit, so the next update of a chat always reads the state the previous one committed).
3. `CustomerMiddleware`: the customer behind the update and their translator (`t`).

Handlers get the update's `session`, an ordinary `AsyncSession` inside that transaction: they
and the services they call never commit (the middleware does, once). If one did, SQLAlchemy
would commit there and then (the chat's lock ends with it) and refuse further statements in the
middleware's block, as it does in any `session.begin()` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, EventContext
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update
from aiogram.utils.backoff import Backoff, BackoffConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import ErrorPolicy, RedeliverUpdate, is_outage, is_private, update_chat
from bot.routers.staff_link import is_link_request
from bot.update_scope import UpdateScope, current_scope
from shared.bot_state.service import claim_update, lock_chat
from shared.customers.telegram import customer_for_telegram_user
from shared.i18n import get_translator, normalize_language

log = logging.getLogger("claimdesk.bot")

# Polling mode, database out: the pause before the update is tried again (1 s, growing to 30 s).
OUTAGE_BACKOFF = BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.5, jitter=0.1)


class UpdateTransactionMiddleware(BaseMiddleware):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        isolation: BaseEventIsolation,
        errors: ErrorPolicy,
        *,
        webhook: bool,
        transactions: int = 10,
        outage_backoff: BackoffConfig = OUTAGE_BACKOFF,
        staff_chat_id: int | None = None,
    ) -> None:
        self.sessions = sessions
        self.staff_chat_id = staff_chat_id  # the staff group: its updates go to the group router
        self.isolation = isolation
        self.errors = errors
        self.webhook = webhook
        self.outage_backoff = outage_backoff
        # Updates in a transaction at once: each holds a pool connection, so no more than the
        # pool keeps (beyond, each would open and close an overflow connection around it).
        self.transactions = asyncio.Semaphore(transactions)
        # Updates being handled: on shutdown they are finished before the bot closes.
        self.handling: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = cast(Update, event)
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        task = asyncio.current_task()
        if task is not None:
            self.handling.add(task)
        backoff = Backoff(self.outage_backoff)
        try:
            # The chat's turn in this process first (a burst of one chat waits here, not holding a
            # connection), then its lock in the database, which holds across processes. The turn
            # lasts until the replies are sent: a chat's answers keep their order.
            async with self._chat_turn(data["bot"], context) as lock_chat_id:
                while True:
                    try:
                        async with self.transactions:
                            result, scope = await self._transaction(handler, update, data, lock_chat_id)
                        self.errors.outages.recovered()
                        break
                    except Exception as exc:
                        if not is_outage(exc):
                            raise  # the dispatcher's errors handler: logged, apologised, acknowledged
                        await self.errors.outage(update, data, exc)
                        if self.webhook:
                            raise RedeliverUpdate(update.update_id) from exc  # no 2xx: Telegram delivers again
                        # Polling: Telegram considers the update delivered; keep it until the
                        # database answers (in order: the chat's next updates wait their turn).
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.stopping.wait(), next(backoff))
                        if self.stopping.is_set():
                            log.error("update %s lost: the database is unavailable and the bot stops", update.update_id)
                            return None
                await scope.after_commit()
                return result
        finally:
            if task is not None:
                self.handling.discard(task)

    @contextlib.asynccontextmanager
    async def _chat_turn(self, bot: Bot, context: EventContext | None) -> AsyncIterator[int | None]:
        """The isolation lock of the update's chat (none for an update without chat or user);
        yields the chat id to lock in the database."""
        chat_id = context.chat_id if context else None
        user_id = context.user_id if context else None
        if chat_id is None and user_id is None:
            yield None
            return
        key = StorageKey(bot_id=bot.id, chat_id=chat_id or user_id or 0, user_id=user_id or chat_id or 0)
        async with self.isolation.lock(key):
            yield key.chat_id

    async def _transaction(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: Update,
        data: dict[str, Any],
        lock_chat_id: int | None,
    ) -> tuple[Any, UpdateScope]:
        """The update's transaction, committed; the handler's result and what waits for the commit."""
        async with self.sessions() as session:
            scope = UpdateScope(session, update.update_id)
            token = current_scope.set(scope)
            try:
                async with session.begin():
                    if lock_chat_id is not None:
                        await lock_chat(session, chat_id=lock_chat_id)  # the transaction's first statement
                    if not await claim_update(session, update_id=update.update_id):
                        log.info("update %s was handled before; skipped", update.update_id)
                        return None, scope
                    if not is_private(update) and not self._from_staff_group(update):
                        # The customers' bot talks in private chats only: a group must never
                        # become where a customer's claims are sent. Recorded as handled.
                        log.info("update %s from a non-private chat; ignored", update.update_id)
                        return None, scope
                    data["session"] = session
                    result = await handler(update, data)
                    if isinstance(result, TelegramMethod):
                        scope.replies.append(result)  # aiogram's `return message.answer(...)`: after the commit too
                        result = None
                return result, scope
            finally:
                current_scope.reset(token)

    def _from_staff_group(self, update: Update) -> bool:
        chat = update_chat(update)
        return chat is not None and self.staff_chat_id is not None and chat.id == self.staff_chat_id

    async def finish(self) -> None:
        """Wait for the updates being handled (the dispatcher's shutdown): each commits (in webhook
        mode a failed one is delivered again later). One waiting for the database gives up: in
        polling mode Telegram considers it delivered, so it is lost (logged)."""
        self.stopping.set()
        current = asyncio.current_task()
        pending = [task for task in self.handling if task is not current]
        if pending:
            log.info("bot: finishing %d updates", len(pending))
            await asyncio.wait(pending, timeout=30)


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
        in_group = context is not None and context.chat is not None and context.chat.type != "private"
        if user is None or user.is_bot or session is None or in_group:
            # The staff group (the only group the bot handles) has staff in it, not customers.
            data["t"] = get_translator(self.default_language)
            return await handler(event, data)
        if is_link_request(cast(Update, event)):
            # A staff member linking their Telegram account (bot/routers/staff_link.py) is not a
            # customer: no customer row is made for them, the answer is in their Telegram language.
            data["t"] = get_translator(normalize_language(user.language_code, self.default_language))
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
        )
        data["customer"] = customer
        data["t"] = get_translator(customer.language)
        return await handler(event, data)
