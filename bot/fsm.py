"""FSM storage for aiogram: PostgreSQL (default) or Redis (when REDIS_URL is set).

Within an update (the `UpdateScope` the transaction middleware opens) a record is read once and
kept in the scope, so a handler reads its own writes:

- PostgreSQL writes through the update's session, in its transaction: a customer's place in the
  wizard and what that step stored commit or roll back together, and a redelivered update finds
  the state it expects.
- Redis cannot join the transaction: its writes wait in the scope and are made once the
  transaction has committed (nothing is written if it rolls back), so a failed update,
  redelivered, finds the state it started from.

Outside an update (tests, tools) both read and write at once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.update_scope import FsmRecord, current_scope
from shared.bot_state.service import load_fsm, save_fsm

if TYPE_CHECKING:  # imported when REDIS_URL is set (create_storage): redis stays out of the bot otherwise
    from aiogram.fsm.storage.redis import RedisStorage


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class PostgresStorage(BaseStorage):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.key_builder = DefaultKeyBuilder(with_destiny=True)

    async def _read(self, key: StorageKey) -> FsmRecord:
        name = self.key_builder.build(key)
        scope = current_scope.get()
        if scope is None:
            async with self.sessions() as session:
                return FsmRecord(*await load_fsm(session, key=name))
        record = scope.fsm.get(name)
        if record is None:
            record = scope.fsm[name] = FsmRecord(*await load_fsm(scope.session, key=name))
        return record

    async def _write(self, key: StorageKey, record: FsmRecord) -> None:
        name = self.key_builder.build(key)
        scope = current_scope.get()
        if scope is None:
            async with self.sessions.begin() as session:
                await save_fsm(session, key=name, state=record.state, data=record.data)
            return
        await save_fsm(scope.session, key=name, state=record.state, data=record.data)
        scope.fsm[name] = record

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        record = await self._read(key)
        await self._write(key, FsmRecord(_state_name(state), record.data))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        record = await self._read(key)
        await self._write(key, FsmRecord(record.state, copy.deepcopy(dict(data))))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return copy.deepcopy((await self._read(key)).data)

    async def close(self) -> None:
        return None


class CommittedRedisStorage(BaseStorage):
    """aiogram's RedisStorage, written after the update's transaction commits (see the module's
    docstring)."""

    def __init__(self, inner: RedisStorage) -> None:
        self.inner = inner
        self.key_builder = inner.key_builder

    async def _record(self, key: StorageKey) -> FsmRecord | None:
        scope = current_scope.get()
        if scope is None:
            return None
        name = self.key_builder.build(key)
        record = scope.fsm.get(name)
        if record is None:
            record = scope.fsm[name] = FsmRecord(await self.inner.get_state(key), await self.inner.get_data(key))
        return record

    def _stage(self, key: StorageKey, record: FsmRecord) -> None:
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

    Isolation serialises the updates of one chat in this process before they take a database
    connection (a burst of one chat waits here, not in the pool); across processes the chat's
    advisory lock, taken first in the update's transaction, serialises them. Not aiogram's
    RedisEventIsolation: its lock lives in Redis with a 60 s expiry, and an update that held it
    when Redis went away could not release it, so that chat's next update waited up to a minute
    after Redis was back (tests/bot/test_redis_outage.py).
    """
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        redis = RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(with_destiny=True))
        return CommittedRedisStorage(redis), SimpleEventIsolation()
    return PostgresStorage(sessions), SimpleEventIsolation()
