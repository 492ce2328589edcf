"""Webhook mode and failures: redelivered updates, the webhook secret, the database being down."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.bot_state.models import ProcessedUpdate
from shared.db import create_engine, create_session_factory
from shared.i18n import get_translator
from shared.settings import get_settings
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed

# Nothing listens on port 1: every connection attempt is refused at once.
DEAD_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/claimdesk"


async def _processed(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0)


async def test_redelivered_update_stores_and_answers_once(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("en")
    user = emu.user(7001, first_name="Rita", language_code="en")
    _, (claim,) = await seed(db, 7001, lang="en")
    async with running_bot(emu, db, webhook=True):
        await user.send_text("/start")
        start_update = dict(emu.world.updates[-1])  # pushed just now, not yet delivered
        (greeting,) = await user.wait_for_messages()
        message = await user.send_text("only once, please")
        text_update_id = emu.world.next_update_id - 1
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=claim.number)
        await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 2, 5)
        # Telegram delivers both updates again (same update_id), and the message once more in a
        # new update (same chat and message id), as after a lost acknowledgement.
        emu.world.updates.append(start_update)
        emu.world.updates.append({"update_id": text_update_id, "message": message})
        emu.world.push_update("message", message)
        emu.world.notify()
        await emu.world.wait_for(lambda: not emu.world.updates and emu.stats["webhook_delivered"] >= 4, 5)
        await user.sleep_until_quiet(0.2)
        async with db() as session:
            stored = await count_interactions(session, claim_id=claim.id)
            processed = await _processed(session)
    assert stored == 1
    assert [m.text for m in user.messages] == [greeting.text, ack.text]  # nothing answered twice
    assert processed == 3  # /start, the text, and the same text under a new update id


async def test_webhook_refuses_a_wrong_secret(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    settings = get_settings().model_copy(update={"webhook_secret": SecretStr("right-secret")})
    user = emu.user(7002, first_name="Sam", language_code="ru")
    _, (claim,) = await seed(db, 7002)
    async with running_bot(emu, db, webhook=True, settings=settings) as run:
        assert run.webhook_url is not None
        chat = {"id": 7002, "type": "private"}
        message = {"message_id": 1, "date": 0, "chat": chat, "from": user.profile, "text": "x"}
        fake = {"update_id": 999, "message": message}
        async with aiohttp.ClientSession() as http:
            for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                async with http.post(run.webhook_url, json=fake, headers=headers) as resp:
                    assert resp.status == 401
        # Telegram configured with another secret: every delivery is refused and kept pending.
        await run.bot.set_webhook(run.webhook_url, secret_token="wrong-secret")
        await user.send_text("hello")
        await emu.world.wait_for(lambda: emu.stats["webhook_failures"] >= 2, 5)
        info = await run.bot.get_webhook_info()
        assert info.pending_update_count == 1 and "401" in (info.last_error_message or "")
        async with db() as session:
            assert await count_interactions(session) == 0 and await _processed(session) == 0
        # With the right secret the same update goes through.
        await run.bot.set_webhook(run.webhook_url, secret_token="right-secret")
        await user.wait_for_messages()
        stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 1)
    assert stored == 1


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_database_down_in_polling_mode(emu: BotApiEmulator, lang: str) -> None:
    t = get_translator(lang)
    engine = create_engine(DEAD_DATABASE, pool_size=2)
    user = emu.user(7003, first_name="Dan", language_code=lang)
    try:
        async with running_bot(emu, create_session_factory(engine)):
            await user.send_text("is anyone there?")
            (sorry,) = await user.wait_for_messages()
            assert sorry.text == t("bot.error.try_later")
            await user.send_text("hello??")  # told once a minute, not for every message
            await emu.world.wait_for(lambda: not emu.world.updates, 5)
            await user.sleep_until_quiet(0.3)
    finally:
        await engine.dispose()
    assert [m.text for m in user.messages] == [t("bot.error.try_later")]


async def test_database_down_in_webhook_mode_is_not_acknowledged(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("ru")
    user = emu.user(7004, first_name="Зоя", language_code="ru")
    _, (claim,) = await seed(db, 7004)
    engine = create_engine(DEAD_DATABASE, pool_size=2)
    try:
        async with running_bot(emu, create_session_factory(engine), webhook=True) as run:
            await user.send_text("мой заказ потерялся")
            (sorry,) = await user.wait_for_messages()
            assert sorry.text == t("bot.error.try_later")
            await emu.world.wait_for(lambda: emu.stats["webhook_failures"] >= 2, 5)
            info = await run.bot.get_webhook_info()
            assert info.pending_update_count == 1 and "500" in (info.last_error_message or "")
            assert emu.stats["webhook_delivered"] == 0
    finally:
        await engine.dispose()
    # The database is back (a bot process with a working one): the kept update is delivered.
    async with running_bot(emu, db, webhook=True):
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=claim.number)
        stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 1)
    assert stored == 1
    assert [m.text for m in user.messages].count(t("bot.error.try_later")) == 1
