"""PostgreSQL restarting during a stream of customer messages in webhook mode (issue 13, faults):
the bot answers Telegram 503 meanwhile, Telegram delivers again, and once the database is back
every message the emulator delivered is stored exactly once, in each chat's order."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.db import create_engine, create_session_factory
from tests.bot.conftest import eventually, running_bot
from tests.bot.test_messages import interactions, seed
from tests.db_proxy import DatabaseProxy

CUSTOMERS = 6
MESSAGES = 12  # each; the database goes away after the fourth and comes back after the eighth


async def test_a_stream_of_messages_across_a_database_restart_is_stored_once_each(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], db_proxy: DatabaseProxy
) -> None:
    people = [emu.user(7400 + n, first_name=f"P{n}", language_code="ru") for n in range(CUSTOMERS)]
    claims = {}
    for person in people:
        _, (claim,) = await seed(db, person.id)
        claims[person.id] = claim.id
    engine = create_engine(db_proxy.url, pool_size=3)
    try:
        async with running_bot(emu, create_session_factory(engine), webhook=True):
            for k in range(MESSAGES):
                if k == 4:
                    await db_proxy.cut()
                if k == 8:
                    await db_proxy.start()
                for person in people:
                    await person.send_text(f"{person.id}#{k}")
                await asyncio.sleep(0.4)

            async def stored(session: AsyncSession) -> int:
                return len([i for i in await interactions(session) if i.direction == "inbound"])

            await eventually(db, stored, lambda n: n >= CUSTOMERS * MESSAGES, 60)
            await asyncio.sleep(1.0)  # a late redelivery would be stored now, if ever
    finally:
        await engine.dispose()
    async with db() as session:
        rows = [i for i in await interactions(session) if i.direction == "inbound"]
    for person in people:
        texts = [r.text for r in rows if r.claim_id == claims[person.id]]
        assert texts == [f"{person.id}#{k}" for k in range(MESSAGES)], texts
    assert emu.stats["webhook_failures"] > 0  # the outage was seen (503s) and ridden out
