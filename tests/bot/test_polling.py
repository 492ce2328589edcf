"""bot/polling.py: long polling keeps going through failed getUpdates calls and updates it cannot
parse, and plain texts skip aiogram's parse as in webhook mode."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.i18n import get_translator
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed


async def test_polling_retries_failed_get_updates(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    t = get_translator("en")
    user = emu.user(7601, first_name="Vera", language_code="en")
    _, (claim,) = await seed(db, 7601, lang="en")
    async with running_bot(emu, db):
        emu.faults.inject(method="getUpdates", kind=502, times=1)
        emu.faults.inject(method="getUpdates", kind="drop", times=1)
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 10)  # both calls failed
        await user.send_text("still there?")
        (ack,) = await user.wait_for_messages(timeout=10)
    assert ack.text == t("bot.route.stored", number=claim.number)


async def test_an_update_that_cannot_be_parsed_is_skipped(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    user = emu.user(7602, first_name="Gleb", language_code="ru")
    _, (claim,) = await seed(db, 7602)
    async with running_bot(emu, db):
        with caplog.at_level(logging.ERROR, logger="claimdesk.bot"):
            emu.world.updates.append({"update_id": emu.world.next_update_id, "message": {"message_id": "not a number"}})
            emu.world.next_update_id += 1
            emu.world.notify()
            await user.send_text("после сломанного")
            stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 1)
            await user.wait_for_messages()
    assert stored == 1
    assert any("failed" in r.getMessage() for r in caplog.records)
