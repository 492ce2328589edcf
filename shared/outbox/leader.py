"""One sending worker per bot at a time.

Telegram's limits (30 messages/s in total, 1/s per chat) belong to the bot, but the pacing is
kept in the worker's memory: two workers sending at once could together exceed them. So a
worker sends only while it holds a PostgreSQL session-level advisory lock named after the bot;
other workers stand by and take over when the holder stops or dies (PostgreSQL drops the lock
with the holder's connection). Leases and SKIP LOCKED still keep messages from being sent twice
when workers overlap for any reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from shared.db import DatabaseConfig, connect

log = logging.getLogger("claimdesk.delivery")

RETRY_SECONDS = 2.0


def lock_key(bot_id: int) -> int:
    digest = hashlib.sha256(f"claimdesk-delivery:{bot_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def sending_turn(database: DatabaseConfig, bot_id: int, stop: asyncio.Event) -> AsyncIterator[bool]:
    """Wait for this bot's sending lock; yields True while held, False when stopped first."""
    conn: asyncpg.Connection = await connect(database)
    try:
        announced = False
        while not stop.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(bot_id)):
                log.info("delivery worker: sending for bot %s", bot_id)
                break
            if not announced:
                log.info("delivery worker: another worker sends for bot %s; standing by", bot_id)
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
        yield not stop.is_set()
    finally:
        await conn.close()  # closing the connection releases the lock
