"""Delivery tests: the Bot API emulator, a real aiogram Bot, the worker in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import make_bot
from bot.delivery.worker import DeliveryWorker, WorkerConfig
from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.db import DatabaseConfig
from shared.i18n import get_translator
from shared.interactions.service import AttachmentIn, reply_to_customer
from tests.factories import make_claim, make_customer, make_staff

TOKEN = "123456:DELIVERY-test"
ROOT = Path(__file__).resolve().parents[2]


def fast_config(**overrides: Any) -> WorkerConfig:
    values: dict[str, Any] = {
        "lease_seconds": 30.0,
        "poll_interval": 2.0,
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "max_attempts": 4,
        "stop_grace": 2.0,
    }
    values.update(overrides)
    return WorkerConfig(**values)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, fault_hold=1.5, sandbox_ui=False)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def flood_emu() -> AsyncIterator[BotApiEmulator]:
    """Telegram's limits enforced: 30 messages/s overall, 1/s per chat."""
    emulator = BotApiEmulator(token=TOKEN, flood_limits=True, fault_hold=1.5, sandbox_ui=False)
    await emulator.start()
    yield emulator
    await emulator.stop()


@contextlib.asynccontextmanager
async def running_worker(
    sessions: async_sessionmaker[AsyncSession],
    emu: BotApiEmulator,
    database_url: str,
    *,
    timeout: float = 5.0,
    listen: bool = True,
    **config: Any,
) -> AsyncIterator[DeliveryWorker]:
    bot = make_bot(emu.token, emu.base_url, timeout=timeout)
    worker = DeliveryWorker(
        sessions, bot=bot, listen=DatabaseConfig(database_url) if listen else None, config=fast_config(**config)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.session.close()


async def telegram_customer(session: AsyncSession, emu: BotApiEmulator, *, language: str = "ru") -> Customer:
    customer = await make_customer(session)
    customer.language = language
    assert customer.telegram_chat_id is not None
    emu.user(customer.telegram_chat_id, customer.name, language_code=language)
    await session.flush()
    return customer


async def claim_for(session: AsyncSession, emu: BotApiEmulator, *, language: str = "ru") -> tuple[Claim, Actor]:
    customer = await telegram_customer(session, emu, language=language)
    claim = await make_claim(session, customer=customer)
    staff = await make_staff(session)
    return claim, Actor.staff(staff.id)


async def staff_reply(
    sessions: async_sessionmaker[AsyncSession],
    claim: Claim,
    actor: Actor,
    text: str,
    attachments: tuple[AttachmentIn, ...] = (),
) -> int:
    async with sessions() as session, session.begin():
        interaction = await reply_to_customer(
            session, claim_id=claim.id, actor=actor, text=text, author_id=actor.id, attachments=attachments
        )
        return interaction.id


def as_delivered(claim: Claim, text: str, language: str = "ru") -> str:
    """A staff answer as the customer reads it: headed by the claim it is about."""
    head = get_translator(language)("delivery.staff_reply", number=claim.number, text="")
    return html.unescape(re.sub(r"<[^>]*>", "", head)) + text


async def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def files_dir(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir(parents=True, exist_ok=True)
    return path
