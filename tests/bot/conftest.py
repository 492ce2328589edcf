"""End-to-end fixtures: the Bot API emulator, and the real claimdesk dispatcher talking to it over
HTTP (long polling, or a webhook the emulator POSTs to) against the test PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher, run_dispatcher
from bot.routers import ROUTERS
from bot.sandbox import BotApiEmulator
from shared.claims.models import Claim
from shared.interactions.models import Interaction
from shared.settings import Settings, get_settings

TOKEN = "123456:BOT-test"
T = TypeVar("T")


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, webhook_retry_delay=0.2, fault_hold=2.0)
    await emulator.start()
    yield emulator
    await emulator.stop()


@dataclass
class RunningBot:
    emu: BotApiEmulator
    bot: Bot
    dp: Dispatcher
    webhook_url: str | None = None


@contextlib.asynccontextmanager
async def running_bot(
    emu: BotApiEmulator,
    sessions: async_sessionmaker[AsyncSession],
    *,
    webhook: bool = False,
    settings: Settings | None = None,
    storage: BaseStorage | None = None,
    routers: tuple[str, ...] = ROUTERS,
) -> AsyncIterator[RunningBot]:
    """The claimdesk dispatcher running against the emulator until the block ends."""
    settings = settings or get_settings()
    bot = create_bot(settings, token=emu.token, api_base=emu.base_url)
    dp = create_dispatcher(sessions, settings, webhook=webhook, storage=storage, routers=routers)
    stop = asyncio.Event()
    polls = len(emu.calls_of("getUpdates"))
    task = asyncio.create_task(
        run_dispatcher(dp, bot, settings, stop, webhook=webhook, polling_timeout=1, webhook_port=0)
    )

    def ready() -> bool:
        if task.done():
            return True
        if webhook:
            return emu.world.webhook is not None
        return len(emu.calls_of("getUpdates")) > polls

    await emu.world.wait_for(ready, 10)
    if task.done():
        task.result()  # raises what stopped it
    try:
        yield RunningBot(emu, bot, dp, emu.world.webhook.url if webhook and emu.world.webhook else None)
    finally:
        stop.set()
        await task
        await bot.session.close()


async def eventually(
    sessions: async_sessionmaker[AsyncSession],
    query: Callable[[AsyncSession], Awaitable[T]],
    until: Callable[[T], bool],
    timeout: float = 5.0,
) -> T:
    """Re-run `query` until `until(result)` holds (the bot commits after it replies)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with sessions() as session:
            result = await query(session)
        if until(result) or loop.time() > deadline:
            return result
        await asyncio.sleep(0.02)


async def count_interactions(session: AsyncSession, **where: Any) -> int:
    query = select(func.count()).select_from(Interaction)
    for key, value in where.items():
        query = query.where(getattr(Interaction, key) == value)
    return int(await session.scalar(query) or 0)


async def claims_of(session: AsyncSession, customer_id: int | None = None) -> list[Claim]:
    query = select(Claim).order_by(Claim.id)
    if customer_id is not None:
        query = query.where(Claim.customer_id == customer_id)
    return list((await session.scalars(query)).all())


class DatabaseProxy:
    """A TCP proxy in front of the test PostgreSQL that can be switched off and on, for a
    database that goes away and comes back under a running bot: `down()` cuts every connection
    through it (a transaction in flight loses its connection) and refuses new ones, `up()`
    listens again on the same port."""

    def __init__(self, database_url: str) -> None:
        target = make_url(database_url)
        self.target = (target.host or "127.0.0.1", target.port or 5432)
        self.port = 0
        self.url = database_url
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        if not self.port:
            self.port = self._server.sockets[0].getsockname()[1]
            self.url = make_url(self.url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._pipes.update((client_writer, server_writer))
        await asyncio.gather(
            self._pump(client_reader, server_writer), self._pump(server_reader, client_writer), return_exceptions=True
        )
        self._pipes.difference_update((client_writer, server_writer))

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.transport.abort()


@pytest.fixture
async def db_proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.up()
    yield proxy
    await proxy.down()
