"""The bot with REDIS_URL set (as docker-compose runs it): FSM in Redis, the reply throttle's
window in Redis (the `limits` library over redis-py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
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
