"""Several bot processes on one database: a double tap on Submit, its two updates handled by two
processes at once (no Redis, so no shared in-process lock), registers one claim."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import UPDATES_AT_ONCE, create_bot, create_dispatcher
from bot.sandbox import BotApiEmulator, UserDriver
from shared.db import create_engine, create_session_factory
from shared.i18n import Translator, get_translator
from shared.settings import get_settings
from tests.bot.conftest import claims_of, running_bot
from tests.bot.test_intake import _open_wizard


async def to_summary(user: UserDriver, t: Translator) -> object:
    """Walk the wizard to its summary; returns the summary message."""
    await _open_wizard(user, t)
    await user.send_text("The kettle leaks")
    (ask_files,) = await user.wait_for_messages()
    await user.press(ask_files, text=t("bot.intake.done"))
    (ask_order,) = await user.wait_for_messages()
    await user.press(ask_order, text=t("bot.intake.skip"))
    (ask_remedy,) = await user.wait_for_messages()
    await user.press(ask_remedy, text=t("remedy.refund"))
    (ask_amount,) = await user.wait_for_messages()  # how much: skipped
    await user.press(ask_amount, text=t("bot.intake.skip"))
    await user.wait_for_messages()
    await user.send_contact("+79990003344")
    _, summary = await user.wait_for_messages(2)
    return summary


async def test_double_submit_in_two_processes_registers_one_claim(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    t = get_translator("en")
    user = emu.user(7301, first_name="Petr", language_code="en")
    async with running_bot(emu, db):
        summary = await to_summary(user, t)
    # The bot is stopped; the two taps wait in the emulator, then two "processes" take one each.
    await user.press(summary, text=t("bot.intake.submit"))
    await user.press(summary, text=t("bot.intake.submit"))
    taps = [emu.world.updates.pop(0) for _ in range(2)]
    settings = get_settings()
    engines = [create_engine(database_url, pool_size=2) for _ in range(2)]
    bots = [create_bot(settings, token=emu.token, api_base=emu.base_url) for _ in range(2)]
    try:
        dps = [create_dispatcher(create_session_factory(engine), settings) for engine in engines]
        results = await asyncio.gather(
            *(
                dp.feed_update(bot, Update.model_validate(tap, context={"bot": bot}))
                for dp, bot, tap in zip(dps, bots, taps, strict=True)
            ),
            return_exceptions=True,
        )
    finally:
        for bot in bots:
            await bot.session.close()
        for engine in engines:
            await engine.dispose()
    async with db() as session:
        claims = await claims_of(session)
    assert len(claims) == 1
    assert not [r for r in results if isinstance(r, BaseException)]


async def test_telegram_failing_on_the_submit_reply_keeps_the_claim(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    """Telegram answers 500 to the "registered" message: the claim stays registered (once), and
    the customer finds it in My claims."""
    t = get_translator("en")
    user = emu.user(7302, first_name="Vera", language_code="en")
    async with running_bot(emu, db):
        summary = await to_summary(user, t)
        emu.faults.inject(method="sendMessage", chat_id=7302, kind=500, times=1)
        tap = await user.press(summary, text=t("bot.intake.submit"))
        await user.wait_for_answer(tap)
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.sleep_until_quiet(0.3)
        async with db() as session:
            claims = await claims_of(session)
        await user.send_text("/claims")
        (listing,) = await user.wait_for_messages()
    assert len(claims) == 1
    assert not any(m.text and claims[0].number in m.text for m in user.messages[:-1])  # the reply was lost
    assert claims[0].number in (listing.text or "")


async def test_webhook_takes_many_updates_at_once_but_opens_no_overflow_connection(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram posts up to 100 updates at once; updates that need a transaction take turns for
    the pool's connections (3 here) instead of opening more."""
    from sqlalchemy import event

    settings = get_settings().model_copy(update={"db_pool_size": 3})
    engine = create_engine(database_url, pool_size=settings.db_pool_size)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    users = [emu.user(7500 + i, first_name=f"H{i}", language_code="en") for i in range(30)]
    try:
        async with running_bot(emu, create_session_factory(engine), webhook=True, settings=settings):
            for user in users:
                await user.send_text("/help")
            answers = [(await user.wait_for_messages())[0].text for user in users]
            hook = emu.world.webhook
    finally:
        await engine.dispose()
    assert len(answers) == 30 and set(answers) == {get_translator("en")("bot.help.text")}
    assert hook is not None and hook.max_connections == UPDATES_AT_ONCE == 100
    assert opened <= 3
