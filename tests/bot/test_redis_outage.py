"""Redis away for a while under the bot (issue 13, faults): the bot goes on, the customers' state
is not corrupted, every message is stored once. The outage is a TCP proxy in front of Redis
(tests/db_proxy.py) cut and restored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.i18n import get_translator
from shared.settings import get_settings
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed
from tests.db_proxy import DatabaseProxy

OUTAGE_SECONDS = 8.0


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(redis_url)
    await proxy.start()
    yield proxy
    await proxy.cut()


async def test_redis_down_and_back_the_wizard_goes_on(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], redis_proxy: DatabaseProxy
) -> None:
    t = get_translator("ru")
    settings = get_settings().model_copy(update={"redis_url": redis_proxy.url})
    user = emu.user(7301, first_name="Ида", language_code="ru")
    writer = emu.user(7302, first_name="Лев", language_code="ru")
    _, (claim,) = await seed(db, 7302)
    async with running_bot(emu, db, settings=settings, webhook=True):
        await user.send_text("/start")
        (greeting,) = await user.wait_for_messages()
        await user.press(greeting, text=t("bot.menu.new"))
        await user.wait_for_messages()
        await user.send_text("Не работает пылесос")
        (ask_files,) = await user.wait_for_messages()
        assert ask_files.text == t("bot.intake.ask_files")

        await redis_proxy.cut()
        await writer.send_text("пока Redis нет")
        await user.press(ask_files, text=t("bot.intake.done"))
        await asyncio.sleep(OUTAGE_SECONDS)
        await redis_proxy.start()

        # Telegram delivers the press again (it was answered 503) and the wizard takes it.
        await emu.world.wait_for(lambda: t("bot.intake.ask_order") in _texts(user), 15)
        stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 1, 30)
        await writer.sleep_until_quiet(0.5)
        await user.sleep_until_quiet(0.5)
    # Told once to try later (not once per redelivery), then the next step: nothing done twice.
    assert _texts(user)[3:] == [t("bot.error.try_later"), t("bot.intake.ask_order")]
    assert _texts(writer) == [t("bot.error.try_later"), t("bot.route.stored", number=claim.number)]
    assert stored == 1


def _texts(user) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text or "" for m in user.messages]
