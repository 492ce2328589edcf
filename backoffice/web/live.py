"""The back-office end of live updates: ONE PostgreSQL connection per process LISTENs on the
`claimdesk_live` channel (shared/live.py) and hands each notification to the open event streams
(`/events`), which filter it for their page. Opened on the first stream; reconnects after a lost
connection (a page may then miss a notification sent meanwhile, and catches up on its next one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import asyncpg
from aiohttp import web

from shared.live import LIVE_CHANNEL

log = logging.getLogger(__name__)
QUEUE_SIZE = 100
RECONNECT_DELAY = 2.0


class LiveFeed:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closed = False

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._listen(), name="claimdesk-live-listen")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.subscribers.discard(queue)

    async def wait_listening(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._listening.wait(), timeout)

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):  # a stalled page misses updates, never blocks the rest
                queue.put_nowait(event)

    async def _listen(self) -> None:
        while not self._closed:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(LIVE_CHANNEL, self._deliver)
                self._listening.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("live updates: cannot listen (%s); retrying", exc)
            finally:
                self._listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(RECONNECT_DELAY)

    async def close(self) -> None:
        self._closed = True
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)  # ends the stream
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


live_key = web.AppKey("live_feed", LiveFeed)


async def close_live_feed(app: web.Application) -> None:
    """on_shutdown: end the open event streams first, so the server need not wait for them."""
    await app[live_key].close()
