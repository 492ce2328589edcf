"""The database restarting while the worker sends (issue 13, fixes 1 and 2): what Telegram answered
is kept and recorded once the database is back (never sent again), the sending lock is taken
again, LISTEN comes back at once (not after the slow poll), and the log says so once.

The outage is the TCP proxy of tests/db_proxy.py: cutting it drops every connection (the lock's
too: PostgreSQL releases the advisory lock as on a restart) and refuses new ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from bot.delivery import run_worker
from bot.sandbox import BotApiEmulator
from shared.db import DatabaseConfig, create_engine, create_session_factory
from shared.outbox.service import NOTIFY_CHANNEL
from shared.runtime import Database
from shared.settings import get_settings
from tests.db_proxy import DatabaseProxy
from tests.delivery.conftest import TOKEN, fast_config, wait_until
from tests.delivery.test_concurrency import _queue, _statuses
from tests.delivery.test_leader import _advisory_locks


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[tuple[DatabaseProxy, Database]]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    config = DatabaseConfig(proxy.url, pool_size=3, connect_timeout=2.0)
    engine = create_engine(config)
    try:
        yield proxy, Database(url=proxy.url, engine=engine, sessions=create_session_factory(engine), config=config)
    finally:
        await engine.dispose()
        await proxy.cut()


def _worker(database: Database, emu: BotApiEmulator, stop: asyncio.Event, **config: float) -> asyncio.Task[None]:
    return asyncio.create_task(
        run_worker(
            get_settings(),
            database,
            stop,
            token=TOKEN,
            api_base=emu.base_url,
            sweep=False,
            config=fast_config(total_per_second=1000, chat_interval=0.001, **config),
        )
    )


def _said(caplog: pytest.LogCaptureFixture, words: str) -> int:
    return sum(words in record.getMessage() for record in caplog.records)


async def test_a_restart_while_sending_records_what_telegram_took_and_sends_nothing_twice(
    db, emu: BotApiEmulator, proxied: tuple[DatabaseProxy, Database], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    proxy, database = proxied
    chats = range(71_000, 71_006)
    for chat in chats:
        emu.user(chat, "U")
    # Telegram takes each message at once and answers 1.5 s later: the database goes meanwhile.
    emu.faults.inject("sendMessage", kind="timeout_after", times=len(chats), hold=1.5)
    stop = asyncio.Event()
    # A lease shorter than the outage: without the fix the leases expire and the messages go again.
    worker = _worker(database, emu, stop, lease_seconds=2.0, poll_interval=30.0)
    try:
        await wait_until(lambda: _has(caplog, "sending for bot"), timeout=30)
        await _queue(db, chats=len(chats), per_chat=1, first_chat=chats[0])
        await _notify(db)  # the worker may have looked before the rows were there
        await wait_until(lambda: _sent_calls(emu, len(chats)), timeout=15)
        await proxy.cut()
        await asyncio.sleep(4)  # the answers arrive, the leases expire, the database is still away
        assert (await _statuses(db)).get("sent", 0) == 0
        await proxy.start()

        await wait_until(lambda: _all_sent(db, len(chats)), timeout=30)
        # Taken again: the worker holds its lock, listens again and sends what comes next at once,
        # not after the 30 s poll.
        await wait_until(lambda: _one_lock(db), timeout=15)
        await wait_until(lambda: _has(caplog, "sending for bot", times=2), timeout=15)
        await _queue(db, chats=len(chats), per_chat=1, first_chat=chats[0])
        await _notify(db)
        await wait_until(lambda: _all_sent(db, 2 * len(chats)), timeout=10)
        await asyncio.sleep(1.0)  # anything sent twice would have gone by now
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)

    assert {chat: len(emu.sent(chat)) for chat in chats} == dict.fromkeys(chats, 2)
    assert emu.stats["calls"]["sendMessage"] == 2 * len(chats)
    # Said once when the database went and once when it came back, not once per failed write.
    assert _said(caplog, "database unavailable") == 1, [r.getMessage() for r in caplog.records]
    assert _said(caplog, "database is back") == 1
    assert _said(caplog, "lost the sending lock") == 1


async def test_the_worker_starts_while_the_database_is_away_and_goes_on_when_it_is_back(
    db, emu: BotApiEmulator, proxied: tuple[DatabaseProxy, Database], caplog: pytest.LogCaptureFixture
) -> None:
    """The case of the issue: the database away while the worker asks for its sending lock."""
    caplog.set_level(logging.INFO)
    proxy, database = proxied
    emu.user(72_000, "U")
    await proxy.cut()
    stop = asyncio.Event()
    worker = _worker(database, emu, stop)
    try:
        await asyncio.sleep(3)
        assert not worker.done()
        await proxy.start()
        await wait_until(lambda: _has(caplog, "sending for bot"), timeout=30)
        await _queue(db, chats=1, per_chat=3, first_chat=72_000)
        await _notify(db)
        await wait_until(lambda: _all_sent(db, 3), timeout=15)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
    assert _said(caplog, "database unavailable") == 1


async def _notify(db) -> None:
    """What `shared.outbox.service.enqueue` sends with every message (`_queue` inserts rows alone)."""
    async with db() as session, session.begin():
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


async def _has(caplog: pytest.LogCaptureFixture, words: str, times: int = 1) -> bool:
    return _said(caplog, words) >= times


async def _sent_calls(emu: BotApiEmulator, n: int) -> bool:
    return emu.stats["calls"].get("sendMessage", 0) >= n


async def _all_sent(db, n: int) -> bool:
    return (await _statuses(db)).get("sent", 0) == n


async def _one_lock(db) -> bool:
    async with db() as session:
        await session.execute(text("SELECT 1"))
    return await _advisory_locks(db) == 1
