"""One sending worker per bot at a time.

Telegram's limits (30 messages/s in total, 1/s per chat) belong to the bot, but the pacing is
kept in the worker's memory: two workers sending at once could together exceed them. So a
worker sends only while it holds a PostgreSQL session-level advisory lock named after the bot;
other workers stand by and take over when the holder stops or dies (PostgreSQL drops the lock
with the holder's connection). Leases and SKIP LOCKED still keep messages from being sent twice
when workers overlap for any reason.

The lock lives as long as its connection: when the server restarts (or the network to it goes)
the lock is gone, whatever the worker thinks. `sending_turn` therefore watches the connection
(asyncpg's termination callback, and a heartbeat for a connection that hangs rather than closes)
and says the turn is over; the worker stops sending and asks for a new turn, which waits for the
database to be back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from shared.db import DatabaseConfig, connect
from shared.outage import INITIAL_PAUSE, MAX_PAUSE, OutageLog, is_outage

log = logging.getLogger("claimdesk.delivery")

RETRY_SECONDS = 2.0  # a stand-by worker asks for the lock this often
HEARTBEAT_SECONDS = 2.0  # the holder checks its lock's connection this often


def lock_key(bot_id: int) -> int:
    digest = hashlib.sha256(f"claimdesk-delivery:{bot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _close(conn: asyncpg.Connection | None) -> None:
    if conn is not None and not conn.is_closed():
        try:
            await asyncio.wait_for(conn.close(), 2.0)
        except Exception:  # already going: make sure it goes
            conn.terminate()


async def _watch(conn: asyncpg.Connection, lost: asyncio.Event, heartbeat: float) -> None:
    """Set `lost` when the lock's connection stops answering (closed, reset, or hanging)."""
    while not lost.is_set():
        await _pause(lost, heartbeat)
        if lost.is_set():
            return
        try:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), heartbeat * 2)
        except Exception:
            lost.set()


@contextlib.asynccontextmanager
async def sending_turn(
    database: DatabaseConfig,
    bot_id: int,
    stop: asyncio.Event,
    *,
    outages: OutageLog | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[asyncio.Event | None]:
    """Wait for this bot's sending lock, riding out a database that is away (said once in the
    log, tried again with a growing pause). Yields an event that is set when the lock is lost
    (its connection closed: the caller must stop sending), or None when `stop` came first."""
    outages = outages or OutageLog("delivery worker", logger=log)
    conn: asyncpg.Connection | None = None
    announced = False
    pause = INITIAL_PAUSE
    try:
        while not stop.is_set():
            try:
                if conn is None or conn.is_closed():
                    conn = await connect(database)
                held = await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(bot_id))
            except Exception as exc:
                if not is_outage(exc):
                    raise
                outages.failed(exc, "not sending; waiting for it")
                await _close(conn)
                conn = None
                await _pause(stop, pause)
                pause = min(MAX_PAUSE, pause * 2)
                continue
            outages.recovered()
            pause = INITIAL_PAUSE
            if held:
                log.info("delivery worker: sending for bot %s", bot_id)
                break
            if not announced:
                log.info("delivery worker: another worker sends for bot %s; standing by", bot_id)
                announced = True
            await _pause(stop, RETRY_SECONDS)
        if stop.is_set() or conn is None:
            yield None
            return
        lost = asyncio.Event()
        conn.add_termination_listener(lambda *_: lost.set())
        watcher = asyncio.create_task(_watch(conn, lost, heartbeat), name="sending-lock-watch")
        try:
            yield lost
        finally:
            lost.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        await _close(conn)  # closing the connection releases the lock
