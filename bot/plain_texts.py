"""The path of the bot's most frequent update: a known customer's plain text outside any wizard.

Such a text can only end in the catch-all (`bot.routers.messages`): stored on its claim by
`store_inbound_text`, then acknowledged (throttled). Going there through the routers costs a
transaction of four round trips (begin, `bot_start_update`, the store, commit), an ORM session,
the FSM and customer middlewares and aiogram's offer of the message to every router, about twice
what storing it costs PostgreSQL (bench/bot_ingest.py). `PlainTexts` does the same with ONE
call of `bot_store_plain_text` (migration 0006): it takes the chat's advisory lock, checks the
conditions under which the routers would do nothing but that store (the customer exists and
their chat and username are as recorded, the FSM record has no state), records the update id
and calls the same `store_inbound_text`, in one transaction, which the texts of other chats that
arrive meanwhile share. When a condition does not hold it writes nothing and the update goes on
through the routers exactly as before; so do updates that are not plain texts, and every update
when the database fails (the routers' path then tells the customer to try again).

A text is offered to `PlainTexts` straight from Telegram's JSON, before aiogram parses it (the
webhook's request handler in `bot.app`, and `bot.polling`), or else by `PlainTextMiddleware`,
the outermost of the bot's update middlewares.

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

# One call of `bot_store_plain_text` per text, in the order given (lock-key order), in one
# statement and so one transaction; `position` maps each row back to its text.
_STORE = """
    SELECT t.position, r.*
    FROM unnest($2::integer[], $3::bigint[], $4::bigint[], $5::bigint[], $6::varchar[], $7::varchar[],
                $8::bigint[], $9::bigint[], $10::text[])
         WITH ORDINALITY AS t(lock_key, update_id, user_id, chat_id, username, fsm_key, chosen, message_id,
                              text, position)
    CROSS JOIN LATERAL bot_store_plain_text(
        $1, t.lock_key, t.update_id, t.user_id, t.chat_id, t.username, t.fsm_key, t.chosen, t.message_id,
        t.text, $11
    ) AS r
    ORDER BY t.position
"""


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


@dataclass(slots=True)
class _Waiting:
    text: PlainText
    fsm_key: str | None
    chosen: int | None
    done: asyncio.Future[asyncpg.Record]


class PlainTexts:
    """Stores plain texts (see the module's docstring), the texts of several chats together.

    At most `statements` statements run at once, on a small asyncpg pool of their own (SQLAlchemy's
    checkout and return of a connection cost more CPU than the statement's round trip). Texts that
    arrive while those run wait here and go together into the next one: one statement calls
    `bot_store_plain_text` for each of them, in one transaction, so a burst costs PostgreSQL one
    commit (one WAL flush) and the bot one round trip. Alone, a text goes at once. PostgreSQL runs
    a statement on one core: more of them at once than it has cores would only queue there, and
    there they could not share a commit.

    Each text still has its own chat's lock, checks and outcome. The chats are locked in the order
    of their lock keys, as in any other batch, so two batches (of two bot processes) never wait for
    each other in a circle. If the statement fails, every text in it is handed to the routers,
    which store or refuse each on its own.
    """

    MAX_BATCH = 100

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        storage: PostgresStorage | CommittedRedisStorage,
        isolation: BaseEventIsolation,
        replies: ReplyThrottle,
        *,
        prefixes: str,
        statements: int = 2,
    ) -> None:
        self.sessions = sessions
        self.storage = storage
        self.isolation = isolation
        self.replies = replies
        self.prefixes = prefixes
        self.statements = statements
        engine = cast(AsyncEngine, sessions.kw["bind"])
        self.dsn = asyncpg_dsn(engine.url.render_as_string(hide_password=False))
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._waiting: list[_Waiting] = []
        self._running: set[asyncio.Task[None]] = set()

    async def handle(self, bot: Bot, text: PlainText) -> SendMessage | Handle | None:
        """Store `text` and return the reply to send once that committed (None: no reply), or
        HANDLE when it is not a plain text after all (then nothing was written)."""
        key = StorageKey(bot_id=bot.id, chat_id=text.chat_id, user_id=text.user_id)
        # The transaction middleware's lock, under the same key: one update of a chat at a time
        # (in this process; across processes with Redis), whichever path it takes. So a chat
        # appears at most once in a statement.
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
        """The function's row for `text`; None when the FSM, kept outside the database, is in a
        wizard."""
        fsm_key: str | None = None
        chosen: Any = None
        if isinstance(self.storage, PostgresStorage):
            fsm_key = self.storage.key_builder.build(key)  # the function reads the record
        else:
            # Read here, under the lock the storage's own writes happen in.
            if await self.storage.inner.get_state(key) is not None:
                return None
            chosen = (await self.storage.inner.get_data(key)).get("writing_claim_id")
            if chosen is not None and not (type(chosen) is int and 0 < chosen < 1 << 63):
                return None
        waiting = _Waiting(text, fsm_key, chosen, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._start()
        return await waiting.done

    def _start(self) -> None:
        while self._waiting and len(self._running) < self.statements:
            batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH :]
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    async def _run(self, batch: list[_Waiting]) -> None:
        batch.sort(key=lambda w: (chat_lock_key(w.text.chat_id), w.text.chat_id))
        try:
            pool = self._pool or await self._open()
            rows = await pool.fetch(
                _STORE,
                CHAT_LOCK_CLASS,
                [chat_lock_key(w.text.chat_id) for w in batch],
                [w.text.update_id for w in batch],
                [w.text.user_id for w in batch],
                [w.text.chat_id for w in batch],
                [w.text.username for w in batch],
                [w.fsm_key for w in batch],
                [w.chosen for w in batch],
                [w.text.message_id for w in batch],
                [w.text.text for w in batch],
                utcnow(),
            )
            if len(rows) != len(batch):
                raise RuntimeError(f"bot_store_plain_text: {len(rows)} rows for {len(batch)} texts")
        except BaseException as exc:
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for waiting, row in zip(batch, rows, strict=True):  # the statement orders them by position
            if not waiting.done.done():  # its update may have been cancelled meanwhile
                waiting.done.set_result(row)

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=self.statements,
                    # Nothing to reset: the statement is its own transaction and its locks are
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
