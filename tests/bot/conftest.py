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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher, run_dispatcher
from bot.routers import ROUTERS
from bot.sandbox import BotApiEmulator
from shared.claims.models import Claim
from shared.interactions.models import Interaction
from shared.settings import Settings, get_settings
from tests.db_proxy import DatabaseProxy

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


@pytest.fixture
async def db_proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    yield proxy
    await proxy.cut()
