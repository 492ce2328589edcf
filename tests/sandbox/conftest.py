"""Fixtures: an emulator per test and a real, unmodified aiogram Bot pointed at it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.sandbox import BotApiEmulator

TOKEN = "123456:TEST-token"


def make_bot(emu: BotApiEmulator, *, timeout: float = 5.0, token: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url), timeout=timeout)
    return Bot(token or emu.token, session=session)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, webhook_retry_delay=0.2, fault_hold=2.0)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    b = make_bot(emu)
    yield b
    await b.session.close()


@contextlib.asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot, emu: BotApiEmulator) -> AsyncIterator[None]:
    """Run aiogram long polling against the emulator for the duration of the block."""
    before = len(emu.calls_of("getUpdates"))
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1))
    # stop_polling() refuses to run before polling started; the first getUpdates proves it did.
    for _ in range(200):
        if len(emu.calls_of("getUpdates")) > before or task.done():
            break
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        if not task.done():
            await dp.stop_polling()
        await task
