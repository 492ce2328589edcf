"""FSM storage for aiogram: PostgreSQL (default) or Redis (when REDIS_URL is set).

The PostgreSQL storage writes inside the transaction of the update being handled (the
`UpdateScope` the transaction middleware opens): a customer's place in the wizard and what that
step stored commit or roll back together, and a redelivered update finds the state it expects.
The Redis storage cannot join the transaction: within an update its writes wait in the scope and
are made once the transaction has committed (nothing is written if it rolls back), so a failed
update, redelivered, finds the state it started from. Outside an update (tests, tools) both
write at once.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.bot_state.service import load_fsm, save_fsm

if TYPE_CHECKING:  # imported when REDIS_URL is set (create_storage): redis stays out of the bot otherwise
    from aiogram.fsm.storage.redis import RedisStorage

log = logging.getLogger("claimdesk.bot")


@dataclass
class _Record:
    state: str | None
    data: dict[str, Any]
    dirty: bool = False


@dataclass
class UpdateScope:
    """The session of the update being handled and the FSM records it read or changed."""

    session: AsyncSession
    records: dict[str, _Record] = field(default_factory=dict)
    # Telegram calls to make once the transaction has committed, in order (`after_commit`).
    replies: list[TelegramMethod[Any]] = field(default_factory=list)
    # FSM writes to a store outside the database (Redis), made once the transaction has committed.
    committed_writes: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)

    def preload(self, key: str, state: str | None, data: dict[str, Any]) -> None:
        """The record as read by the update's first statement (`start_update`)."""
        self.records[key] = _Record(state, data)

    async def flush_fsm(self) -> None:
        for key, record in self.records.items():
            if record.dirty:
                await save_fsm(self.session, key=key, state=record.state, data=record.data)
                record.dirty = False

    async def write_committed(self) -> None:
        """After the commit: the staged writes of `CommittedRedisStorage`. A failed write is
        logged: the update is handled, and the customer's conversation stays one step behind."""
        writes, self.committed_writes = self.committed_writes, {}
        for key, write in writes.items():
            try:
                await write()
            except Exception as exc:
                log.error("conversation state %s not written to Redis: %s", key, exc)


current_scope: ContextVar[UpdateScope | None] = ContextVar("claimdesk_update_scope", default=None)


def after_commit(method: TelegramMethod[Any]) -> None:
    """Have the transaction middleware send `method` (bound to the bot: `message.answer(...)`
    without await) after the update's transaction commits; nothing is sent if it rolls back.
    So no Telegram round trip happens while the transaction (and its row locks) is open, and a
    Telegram failure cannot undo what the update stored. Outside an update: an error."""
    scope = current_scope.get()
    if scope is None:
        raise RuntimeError("after_commit outside an update")
    scope.replies.append(method)


def drop_buttons_after_commit(query: CallbackQuery) -> None:
    """Remove the inline buttons of the message a callback came from, after the commit."""
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        after_commit(query.message.edit_reply_markup(reply_markup=None))


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class PostgresStorage(BaseStorage):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.key_builder = DefaultKeyBuilder(with_destiny=True)

    async def _record(self, key: str) -> _Record:
        scope = current_scope.get()
        if scope is not None:
            record = scope.records.get(key)
            if record is None:
                state, data = await load_fsm(scope.session, key=key)
                record = scope.records[key] = _Record(state, data)
            return record
        async with self.sessions() as session:
            state, data = await load_fsm(session, key=key)
        return _Record(state, data)

    async def _write(self, key: str, record: _Record) -> None:
        scope = current_scope.get()
        if scope is not None:
            record.dirty = True
            scope.records[key] = record
            return
        async with self.sessions.begin() as session:
            await save_fsm(session, key=key, state=record.state, data=record.data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = self.key_builder.build(key)
        record = await self._record(name)
        record.state = _state_name(state)
        await self._write(name, record)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._record(self.key_builder.build(key))).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        name = self.key_builder.build(key)
        record = await self._record(name)
        record.data = copy.deepcopy(dict(data))
        await self._write(name, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return copy.deepcopy((await self._record(self.key_builder.build(key))).data)

    async def close(self) -> None:
        return None


class CommittedRedisStorage(BaseStorage):
    """aiogram's RedisStorage, written after the update's transaction commits (see the module's
    docstring). Within an update the record is read once and then kept in the scope, so the
    handler reads its own writes."""

    def __init__(self, inner: RedisStorage) -> None:
        self.inner = inner
        self.key_builder = inner.key_builder

    async def _record(self, key: StorageKey) -> _Record | None:
        scope = current_scope.get()
        if scope is None:
            return None
        name = self.key_builder.build(key)
        record = scope.records.get(name)
        if record is None:
            record = scope.records[name] = _Record(await self.inner.get_state(key), await self.inner.get_data(key))
        return record

    def _stage(self, key: StorageKey, record: _Record) -> None:
        scope = current_scope.get()
        assert scope is not None

        async def write() -> None:
            await self.inner.set_state(key, record.state)
            await self.inner.set_data(key, record.data)

        scope.committed_writes[self.key_builder.build(key)] = write

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = await self._record(key)
        if record is None:
            await self.inner.set_state(key, state)
            return
        record.state = _state_name(state)
        self._stage(key, record)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._record(key)
        return record.state if record is not None else await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        record = await self._record(key)
        if record is None:
            await self.inner.set_data(key, data)
            return
        record.data = copy.deepcopy(dict(data))
        self._stage(key, record)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._record(key)
        return copy.deepcopy(record.data) if record is not None else await self.inner.get_data(key)

    async def close(self) -> None:
        await self.inner.close()


def create_storage(
    redis_url: str | None, sessions: async_sessionmaker[AsyncSession]
) -> tuple[BaseStorage, BaseEventIsolation]:
    """The storage and the per-chat isolation that goes with it.

    Isolation serialises the updates of one chat (a double tap on Submit is handled once, in
    order); with Redis it holds across bot processes, with PostgreSQL within this process.
    """
    if redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        redis = RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(with_destiny=True))
        return CommittedRedisStorage(redis), RedisEventIsolation(redis.redis, key_builder=redis.key_builder)
    return PostgresStorage(sessions), SimpleEventIsolation()
