"""The path of the bot's most frequent update: a known customer's plain text outside any wizard.

Such a text can only end in the catch-all (`bot.routers.messages`): stored on its claim by
`store_inbound_text`, then acknowledged (throttled). Going there through the routers costs a
transaction of four round trips (begin, `bot_start_update`, the store, commit), an ORM session,
the FSM and customer middlewares and aiogram's offer of the message to every router, about twice
what storing it costs PostgreSQL (bench/bot_ingest.py). `PlainTextMiddleware`, the outermost of
the bot's middlewares, does the same in ONE statement: `bot_store_plain_text` (migration 0006)
takes the chat's advisory lock, checks the conditions under which the routers would do nothing
but that store (the customer exists and their chat and username are as recorded, the FSM record
has no state), records the update id and calls the same `store_inbound_text`, all in one
implicit transaction. When a condition does not hold it writes nothing and the update goes on
through the routers exactly as before; so do updates that are not plain texts, and every update
when the database fails (the routers' path then tells the customer to try again).

What makes a text "plain" is checked against the routers when the dispatcher is built
(`plain_text_prefixes`): every message handler but the catch-all must need a command or a wizard
state (the router gates' rule); otherwise this path is off. With the FSM in Redis the state is
read from there first, under the same per-chat lock the routers' path holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from aiogram import BaseMiddleware, Bot, Router
from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, EventContext
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.methods import SendMessage
from aiogram.types import TelegramObject, Update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.fsm import CommittedRedisStorage, PostgresStorage
from bot.middlewares import DATABASE_ERRORS, ReplyThrottle
from bot.router_gates import observer_gate
from bot.routers.messages import acknowledge, any_message
from shared.bot_state.service import CHAT_LOCK_CLASS, chat_lock_key
from shared.claims.models import Claim
from shared.clock import utcnow
from shared.db import asyncpg_dsn
from shared.i18n import get_translator
from shared.interactions.routing import StoredText, open_claims
from shared.interactions.service import MAX_TEXT

log = logging.getLogger(__name__)

_STORE = "SELECT * FROM bot_store_plain_text($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"


@dataclass(frozen=True, slots=True)
class PlainText:
    """A text message in a private chat, from a user, that is no command."""

    update_id: int
    chat_id: int
    user_id: int
    username: str | None
    message_id: int
    text: str


def plain_text_of(update: Update, context: EventContext | None, prefixes: str) -> PlainText | None:
    """The update as a plain text, or None (it goes through the routers)."""
    message = update.message
    if message is None or context is None or context.user is None or context.chat_id is None:
        return None
    user = context.user
    if (
        message.text is None
        or message.chat.type != "private"
        or user.is_bot
        # The FSM key or the reply (`Message.answer`) would carry these; the statement reads the
        # plain (chat, user) record and the reply goes to the chat.
        or context.thread_id is not None
        or context.business_connection_id is not None
        or message.message_thread_id is not None
        or message.is_topic_message
        or message.business_connection_id is not None
        or message.sender_chat is not None
    ):
        return None
    text = PlainText(update.update_id, context.chat_id, user.id, user.username, message.message_id, message.text)
    return _checked(text, prefixes)


def plain_text_of_json(raw: Any, prefixes: str) -> PlainText | None:
    """The same, read from the update's JSON as Telegram sent it, before aiogram parses it (in
    webhook mode the parse alone costs a fifth of a plain text's handling). Anything unusual
    (another field, an unexpected type) is None: aiogram then parses and routes it."""
    if not isinstance(raw, dict) or raw.keys() != {"update_id", "message"}:
        return None
    message, update_id = raw["message"], raw["update_id"]
    if not isinstance(message, dict) or _UNUSUAL & message.keys():
        return None
    chat, user, text = message.get("chat"), message.get("from"), message.get("text")
    if not (isinstance(chat, dict) and isinstance(user, dict) and isinstance(text, str)):
        return None
    username = user.get("username")
    if (
        chat.get("type") != "private"
        or user.get("is_bot") is not False
        or not _ints(update_id, message.get("message_id"), message.get("date"), chat.get("id"), user.get("id"))
        or not (username is None or isinstance(username, str))
    ):
        return None
    return _checked(PlainText(update_id, chat["id"], user["id"], username, message["message_id"], text), prefixes)


# Message fields that would make aiogram see another chat, thread or sender than (chat, from).
_UNUSUAL = frozenset({"message_thread_id", "is_topic_message", "business_connection_id", "sender_chat"})


def _ints(*values: Any) -> bool:
    return all(type(value) is int for value in values)


def _checked(text: PlainText, prefixes: str) -> PlainText | None:
    """None for what the routers answer with an error (too long, blank) or may take (a command)."""
    body = text.text
    if len(body) > MAX_TEXT or not body.strip() or body.lstrip()[:1] in prefixes:
        return None
    return text


def plain_text_prefixes(root: Router) -> str | None:
    """The first characters that may start a command, when a plain text outside any wizard can
    only be taken by the catch-all (`any_message`, with no middleware of its own); None when
    some other message handler might take it too (then every text goes through the routers)."""
    prefixes: set[str] = set()
    for router in root.chain_tail:
        observer = router.observers["message"]
        if not observer.handlers and not len(observer.outer_middleware):
            continue
        gate = observer_gate(observer)
        if gate is not None:
            if None in gate.states:
                return None  # a handler that takes texts outside any wizard
            prefixes.update(gate.prefixes)
            continue
        catch_all_only = (
            [h.callback for h in observer.handlers] == [any_message]
            and not observer.handlers[0].filters
            and not observer._handler.filters
            and not len(observer.outer_middleware)
            and not len(observer.middleware)
        )
        if not catch_all_only:
            return None
    return "".join(sorted(prefixes)) or "/"


class Handle:
    """The answer "not mine": the update goes through aiogram's routers."""


HANDLE = Handle()
# `feed_update` keyword: the webhook already offered this update to `PlainTexts` (and it was
# declined), the middleware does not ask again.
OFFERED = "claimdesk_plain_text_offered"


class PlainTexts:
    """Stores plain texts in one statement each (see the module's docstring), on its own small
    asyncpg pool: SQLAlchemy's checkout and return of a connection cost more CPU than the
    statement's own round trip."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        storage: PostgresStorage | CommittedRedisStorage,
        isolation: BaseEventIsolation,
        replies: ReplyThrottle,
        *,
        prefixes: str,
        pool_size: int,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.isolation = isolation
        self.replies = replies
        self.prefixes = prefixes
        self.pool_size = pool_size
        engine = cast(AsyncEngine, sessions.kw["bind"])
        self.dsn = asyncpg_dsn(engine.url.render_as_string(hide_password=False))
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def handle(self, bot: Bot, text: PlainText) -> SendMessage | Handle | None:
        """Store `text` and return the reply to send once that committed (None: no reply), or
        HANDLE when it is not a plain text after all (then nothing was written)."""
        key = StorageKey(bot_id=bot.id, chat_id=text.chat_id, user_id=text.user_id)
        # The transaction middleware's lock, under the same key: one update of a chat at a time
        # (in this process; across processes with Redis), whichever path it takes.
        async with self.isolation.lock(key):
            try:
                row = await self._store(text, key)
            except DATABASE_ERRORS as exc:
                log.warning("update %s: plain text not stored directly (%s); via the routers", text.update_id, exc)
                return HANDLE
        if row is None or row["outcome"] == "handle":
            return HANDLE
        if row["outcome"] == "duplicate":
            log.info("update %s was handled before; skipped", text.update_id)
            return None
        stored = StoredText(row["interaction_id"], row["claim_id"], row["number"], int(row["open_claims"]))
        customer_id: int = row["customer_id"]

        async def choices() -> Sequence[Claim]:
            async with self.sessions() as session:
                return await open_claims(session, customer_id=customer_id)

        def answer(**fields: Any) -> SendMessage:
            return SendMessage(chat_id=text.chat_id, **fields).as_(bot)

        return await acknowledge(get_translator(row["language"]), self.replies, stored, text.chat_id, choices, answer)

    async def _store(self, text: PlainText, key: StorageKey) -> asyncpg.Record | None:
        """The statement's row; None when the FSM, kept outside the database, is in a wizard."""
        fsm_key: str | None = None
        chosen: Any = None
        if isinstance(self.storage, PostgresStorage):
            fsm_key = self.storage.key_builder.build(key)  # the statement reads the record
        else:
            # Read here, under the lock the storage's own writes happen in.
            if await self.storage.inner.get_state(key) is not None:
                return None
            chosen = (await self.storage.inner.get_data(key)).get("writing_claim_id")
            if chosen is not None and not (type(chosen) is int and 0 < chosen < 1 << 63):
                return None
        pool = self._pool or await self._open()
        return await pool.fetchrow(
            _STORE,
            CHAT_LOCK_CLASS,
            chat_lock_key(text.chat_id),
            text.update_id,
            text.user_id,
            text.chat_id,
            text.username,
            fsm_key,
            chosen,
            text.message_id,
            text.text,
            utcnow(),
        )

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=self.pool_size,
                    # Nothing to reset: the statement is its own transaction and its lock is
                    # transaction-scoped (asyncpg's default reset is one more round trip).
                    reset=_no_reset,
                    server_settings={"jit": "off"},
                )
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None


class PlainTextMiddleware(BaseMiddleware):
    """The outermost of the bot's update middlewares: offers each update to `PlainTexts`."""

    def __init__(self, texts: PlainTexts) -> None:
        self.texts = texts

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not data.get(OFFERED):
            text = plain_text_of(cast(Update, event), data.get(EVENT_CONTEXT_KEY), self.texts.prefixes)
            if text is not None:
                reply = await self.texts.handle(data["bot"], text)
                if reply is not HANDLE:
                    return reply
        return await handler(event, data)
