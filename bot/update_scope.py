"""What one update's handling holds between its transaction and after it: the session, the FSM
records it read, and what must wait for the commit (replies, Redis writes).

Replies go one way: `after_commit(message.answer(...))`. The transaction middleware sends them,
in order, once the update's transaction has committed; nothing is sent for an update that rolled
back. So no Telegram round trip happens while the transaction (and its locks) is open, and a
Telegram failure cannot undo what the update stored. A handler that sends several messages
queues several. (aiogram's own idiom, returning one method from the handler, goes the same way:
the middleware queues what a handler returns.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("claimdesk.bot")


@dataclass
class FsmRecord:
    """A conversation record as the update sees it (read once, then kept here)."""

    state: str | None
    data: dict[str, Any]


@dataclass
class UpdateScope:
    """The session of the update being handled and what waits for its commit."""

    session: AsyncSession
    update_id: int
    fsm: dict[str, FsmRecord] = field(default_factory=dict)
    # Telegram calls to make once the transaction has committed, in order.
    replies: list[TelegramMethod[Any]] = field(default_factory=list)
    # What to do with a reply's result once sent (keyed by the reply's position in `replies`).
    then: dict[int, Callable[[Any], Awaitable[None]]] = field(default_factory=dict)
    # FSM writes to a store outside the database (Redis), made once the transaction has committed.
    committed_writes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)

    async def after_commit(self) -> None:
        """The staged Redis writes, then the replies. A failure is logged and the rest still go:
        the update is handled; a lost reply is seen the next time the customer looks (My
        claims), a lost state write as the same question asked again."""
        writes, self.committed_writes = self.committed_writes, {}
        for key, write in writes.items():
            try:
                await write()
            except Exception as exc:
                log.error("update %s: conversation state %s not written to Redis: %s", self.update_id, key, exc)
        replies, self.replies = self.replies, []
        then, self.then = self.then, {}
        for position, method in enumerate(replies):
            try:
                sent = await method
                if position in then:
                    await then[position](sent)
            except Exception as exc:
                log.warning("update %s: reply %s not sent: %s", self.update_id, method.__api_method__, exc)


current_scope: ContextVar[UpdateScope | None] = ContextVar("claimdesk_update_scope", default=None)


def after_commit(method: TelegramMethod[Any], *, then: Callable[[Any], Awaitable[None]] | None = None) -> None:
    """Send `method` (bound to the bot: `message.answer(...)`, not awaited) once the update's
    transaction has committed; then, if given, `then(result)` (the sent message): still in the
    chat's turn, so before the chat's next update. Outside an update: an error."""
    scope = current_scope.get()
    if scope is None:
        raise RuntimeError("after_commit outside an update")
    if then is not None:
        scope.then[len(scope.replies)] = then
    scope.replies.append(method)


def drop_buttons_after_commit(query: CallbackQuery) -> None:
    """Remove the inline buttons of the message a callback came from, after the commit."""
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        after_commit(query.message.edit_reply_markup(reply_markup=None))
