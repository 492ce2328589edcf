"""An emulator restart loses nothing: its update ids and message ids never repeat, so the desk does
not take new messages for redeliveries of old ones (it used to drop them after a restart)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.i18n import get_translator
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed
from tests.sandbox.conftest import make_bot


async def test_ids_continue_above_the_previous_run() -> None:
    """A run that handed out many ids, then a restart at once: every new id is above every old one."""
    first = BotApiEmulator(token="1:A", sandbox_ui=False)
    await first.start()
    old_updates, old_messages = [], []
    try:
        user = first.user(5, "Anna")
        for n in range(2000):
            old_messages.append((await user.send_text(f"{n}"))["message_id"])
            old_updates.append(first.world.updates[-1]["update_id"])
        bot = make_bot(first)
        old_messages.append((await bot.send_message(5, "reply")).message_id)
        await bot.session.close()
    finally:
        await first.stop()
    assert old_updates == list(range(old_updates[0], old_updates[0] + 2000))  # sequential, as Telegram's
    second = BotApiEmulator(token="1:A", sandbox_ui=False, port=first.port)
    await second.start()
    try:
        again = second.user(5, "Anna")
        message = await again.send_text("after the restart")
        assert second.world.updates[-1]["update_id"] > max(old_updates)
        assert message["message_id"] > max(old_messages)
    finally:
        await second.stop()


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_restart_mid_conversation_loses_nothing(db: async_sessionmaker[AsyncSession], webhook: bool) -> None:
    """`claimdesk run` restarted while a customer writes: what they send afterwards is stored on
    their claim and answered, like what they sent before. (Two texts on each side: the desk
    acknowledges at most two texts of a chat in five seconds.)"""
    t = get_translator("en")
    _, (claim,) = await seed(db, 7801, lang="en")
    emu = BotApiEmulator(token="123456:RESTART", webhook_retry_delay=0.2, sandbox_ui=False)
    await emu.start()
    port = emu.port
    try:
        user = emu.user(7801, first_name="Vera", language_code="en")
        async with running_bot(emu, db, webhook=webhook):
            for n in range(2):
                await user.send_text(f"before the restart {n}")
                (ack,) = await user.wait_for_messages()
                assert ack.text == t("bot.route.stored", number=claim.number)
    finally:
        await emu.stop()

    emu = BotApiEmulator(token="123456:RESTART", webhook_retry_delay=0.2, sandbox_ui=False, port=port)
    await emu.start()
    try:
        user = emu.user(7801, first_name="Vera", language_code="en")  # the same person, a new emulator
        async with running_bot(emu, db, webhook=webhook):
            for n in range(2):
                await user.send_text(f"after the restart {n}")
                (ack,) = await user.wait_for_messages()
                assert ack.text == t("bot.route.stored", number=claim.number)
            stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 4)
    finally:
        await emu.stop()
    assert stored == 4


async def test_restart_under_a_polling_bot_loses_nothing(db: async_sessionmaker[AsyncSession]) -> None:
    """The emulator alone restarts on its port while the bot keeps polling it."""
    t = get_translator("en")
    _, (claim,) = await seed(db, 7802, lang="en")
    emu = BotApiEmulator(token="123456:RESTART", sandbox_ui=False)
    await emu.start()
    user = emu.user(7802, first_name="Oleg", language_code="en")
    async with running_bot(emu, db):
        await user.send_text("before")
        await user.wait_for_messages()
        await emu.stop()
        emu = BotApiEmulator(token="123456:RESTART", sandbox_ui=False, port=emu.port)
        await emu.start()
        user = emu.user(7802, first_name="Oleg", language_code="en")
        await user.send_text("after")
        (ack,) = await user.wait_for_messages(timeout=15)  # the bot's poll backs off while it is down
        assert ack.text == t("bot.route.stored", number=claim.number)
    await emu.stop()
    async with db() as session:
        assert await count_interactions(session, claim_id=claim.id) == 2
