"""The bot with REDIS_URL set (as docker-compose runs it): FSM in Redis, the reply throttle's
window in Redis (the `limits` library over redis-py)."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm import create_storage
from bot.sandbox import BotApiEmulator
from bot.update_scope import UpdateScope, current_scope
from shared.i18n import get_translator
from shared.settings import get_settings
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed


async def test_bot_runs_with_redis(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], redis_url: str) -> None:
    t = get_translator("en")
    settings = get_settings().model_copy(update={"redis_url": redis_url})
    user = emu.user(7201, first_name="Rosa", language_code="en")
    _, (claim,) = await seed(db, 7201, lang="en")
    async with running_bot(emu, db, settings=settings):
        await user.send_text("/start")
        (greeting,) = await user.wait_for_messages()
        await user.send_text("any news?")  # acknowledged through the Redis-backed throttle
        (ack,) = await user.wait_for_messages()
        stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 1)
    assert greeting.buttons and greeting.buttons[0]["text"] == t("bot.menu.new")
    assert ack.text == t("bot.route.stored", number=claim.number)
    assert stored == 1


async def test_wizard_state_in_redis_survives_a_restart(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], redis_url: str
) -> None:
    t = get_translator("ru")
    settings = get_settings().model_copy(update={"redis_url": redis_url})
    user = emu.user(7202, first_name="Пётр", language_code="ru")
    async with running_bot(emu, db, settings=settings):
        await user.send_text("/start")
        (greeting,) = await user.wait_for_messages()
        await user.press(greeting, text=t("bot.menu.new"))
        (ask,) = await user.wait_for_messages()
        assert ask.text == t("bot.intake.ask_description")
        await user.send_text("Не работает пылесос")
        (ask_files,) = await user.wait_for_messages()
        assert ask_files.text == t("bot.intake.ask_files")
    async with running_bot(emu, db, settings=settings):  # a new process: the state is in Redis
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
    assert ask_order.text == t("bot.intake.ask_order")


async def test_redis_state_is_written_only_after_the_commit(
    db: async_sessionmaker[AsyncSession], redis_url: str
) -> None:
    """Within an update the storage keeps its writes in the update's scope: a rolled-back update
    leaves Redis as it was (a redelivery finds the state it started from); a committed one
    writes them, and the handler reads its own writes meanwhile."""
    storage, _ = create_storage(redis_url, db)
    key = StorageKey(bot_id=1, chat_id=7203, user_id=7203)
    await storage.set_state(key, "Intake:description")  # outside an update: written at once
    try:
        async with db() as session:
            for committed in (False, True):
                scope = UpdateScope(session, update_id=1)
                token = current_scope.set(scope)
                try:
                    await storage.set_state(key, "Intake:files")
                    await storage.update_data(key, {"description": "Не работает"})
                    assert await storage.get_state(key) == "Intake:files"
                    assert await storage.get_data(key) == {"description": "Не работает"}
                    if committed:
                        await scope.after_commit()
                finally:
                    current_scope.reset(token)
                if not committed:  # rolled back: nothing reached Redis
                    assert await storage.get_state(key) == "Intake:description"
                    assert await storage.get_data(key) == {}
        assert await storage.get_state(key) == "Intake:files"
        assert await storage.get_data(key) == {"description": "Не работает"}
    finally:
        await storage.set_state(key, None)
        await storage.close()
