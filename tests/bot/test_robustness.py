"""The one path under failure: redelivered updates, the webhook secret, the database going away and
coming back (polling and webhook), an error inside a handler, and a handler that commits."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, Update
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot, create_dispatcher
from bot.routers import ROUTERS
from bot.sandbox import BotApiEmulator
from bot.update_scope import after_commit
from shared.bot_state.models import AppMeta, FsmRecord, ProcessedUpdate
from shared.customers.models import Customer
from shared.db import create_engine, create_session_factory
from shared.i18n import get_translator
from shared.settings import get_settings
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import interactions, seed
from tests.db_proxy import DatabaseProxy

MODES = [False, True]
MODE_IDS = ["polling", "webhook"]


# -- a router of handlers that fail on purpose (`make_router`: the routers' convention) -------------
async def duplicate_customer(message: Message, session: AsyncSession, customer: Customer) -> None:
    """A bug: a second customer with the same Telegram account (a unique constraint)."""
    session.add(Customer(name="twin", telegram_user_id=customer.telegram_user_id, language="en"))
    await session.flush()


async def commit_then_fail(message: Message, session: AsyncSession) -> None:
    """A handler that commits (which it should not) and then fails."""
    session.add(AppMeta(key=f"committed-{message.message_id}", value={}))
    await session.commit()
    raise RuntimeError("after an explicit commit")


async def reply_then_fail(message: Message, session: AsyncSession, state: FSMContext) -> None:
    after_commit(message.answer("never sent: the update rolled back"))
    await state.set_state("Failing:step")  # in PostgreSQL: written in the update's transaction
    session.add(AppMeta(key=f"rolled-back-{message.message_id}", value={}))
    raise RuntimeError("before the commit")


def make_router() -> Router:
    router = Router(name="failing")
    router.message.register(duplicate_customer, Command("twin"))
    router.message.register(commit_then_fail, Command("commit"))
    router.message.register(reply_then_fail, Command("rollback"))
    return router


FAILING = ("tests.bot.test_robustness", *ROUTERS)


async def _processed(session: AsyncSession, update_id: int | None = None) -> int:
    query = select(func.count()).select_from(ProcessedUpdate)
    if update_id is not None:
        query = query.where(ProcessedUpdate.update_id == update_id)
    return int(await session.scalar(query) or 0)


# -- redelivery ------------------------------------------------------------------------------------
async def test_redelivered_update_stores_and_answers_once(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("en")
    user = emu.user(7001, first_name="Rita", language_code="en")
    _, (claim,) = await seed(db, 7001, lang="en")
    async with running_bot(emu, db, webhook=True):
        await user.send_text("/start")
        start = dict(emu.world.updates[-1])  # pushed just now, not yet delivered
        (greeting,) = await user.wait_for_messages()
        message = await user.send_text("only once, please")
        text_update_id = emu.world.next_update_id - 1
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=claim.number)
        await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 2, 5)
        # Telegram delivers both updates again (same update_id), and the message once more in a
        # new update (same chat and message id), as after a lost acknowledgement.
        emu.world.updates.append(start)
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


async def test_one_update_in_two_bot_processes_at_once_is_stored_and_answered_once(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """As after a restart in polling mode (an update handled but not yet confirmed is fetched
    again) or two webhook replicas: the same update handled twice at the same moment."""
    t = get_translator("en")
    user = emu.user(7005, first_name="Olga", language_code="en")
    _, (claim,) = await seed(db, 7005, lang="en")
    await user.send_text("twice at once")
    raw = emu.world.updates.pop(0)
    settings = get_settings()
    engines = [create_engine(database_url, pool_size=2) for _ in range(2)]
    bots = [create_bot(settings, token=emu.token, api_base=emu.base_url) for _ in range(2)]
    try:
        dps = [create_dispatcher(create_session_factory(engine), settings) for engine in engines]
        await asyncio.gather(
            *(
                dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
                for dp, bot in zip(dps, bots, strict=True)
            )
        )
        await user.sleep_until_quiet(0.2)
    finally:
        for bot in bots:
            await bot.session.close()
        for engine in engines:
            await engine.dispose()
    async with db() as session:
        stored = await count_interactions(session, claim_id=claim.id)
        processed = await _processed(session, raw["update_id"])
    assert (stored, processed) == (1, 1)
    assert [m.text for m in user.messages] == [t("bot.route.stored", number=claim.number)]


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
            # Not an update at all: acknowledged (Telegram would send it forever), nothing stored.
            async with http.post(
                run.webhook_url, json={"nonsense": True}, headers={"X-Telegram-Bot-Api-Secret-Token": "right-secret"}
            ) as resp:
                assert resp.status == 200
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


# -- the database goes away and comes back ---------------------------------------------------------
@pytest.mark.parametrize("webhook", MODES, ids=MODE_IDS)
async def test_database_down_and_back_loses_nothing(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], db_proxy: DatabaseProxy, webhook: bool
) -> None:
    """The customer is told to try again, once; in webhook mode Telegram gets no 2xx (503) and
    keeps the updates; in polling mode the bot keeps them. Once the database is back, every
    message is stored, once, in order."""
    t = get_translator("ru")
    user = emu.user(7004, first_name="Зоя", language_code="ru")
    _, (claim,) = await seed(db, 7004)
    engine = create_engine(db_proxy.url, pool_size=2)
    try:
        async with running_bot(emu, create_session_factory(engine), webhook=webhook) as run:
            await user.send_text("до сбоя")
            (ack,) = await user.wait_for_messages()
            assert ack.text == t("bot.route.stored", number=claim.number)
            await db_proxy.cut()  # the pooled connection is cut, new ones are refused
            await user.send_text("мой заказ потерялся")
            await user.send_text("алло?")
            (sorry,) = await user.wait_for_messages()
            assert sorry.text == t("bot.error.try_later")
            if webhook:
                await emu.world.wait_for(lambda: emu.stats["webhook_failures"] >= 2, 10)
                info = await run.bot.get_webhook_info()
                assert info.pending_update_count == 2 and "503" in (info.last_error_message or "")
            else:
                await emu.world.wait_for(lambda: not emu.world.updates, 5)  # taken, kept by the bot
            async with db() as session:
                assert await count_interactions(session, claim_id=claim.id) == 1
            await db_proxy.start()
            rows = await eventually(db, lambda s: interactions(s, claim_id=claim.id), lambda r: len(r) == 3, 20)
            await user.sleep_until_quiet(0.3)
    finally:
        await engine.dispose()
    assert [r.text for r in rows] == ["до сбоя", "мой заказ потерялся", "алло?"]
    assert [m.text for m in user.messages].count(t("bot.error.try_later")) == 1
    if webhook:
        assert emu.stats["webhook_delivered"] == 3


# -- errors inside handlers ------------------------------------------------------------------------
@pytest.mark.parametrize("webhook", MODES, ids=MODE_IDS)
async def test_an_integrity_error_in_a_handler_is_answered_and_acknowledged_once(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], webhook: bool, caplog: pytest.LogCaptureFixture
) -> None:
    t = get_translator("en")
    user = emu.user(7006, first_name="Bug", language_code="en")
    _, (claim,) = await seed(db, 7006, lang="en")
    caplog.set_level(logging.INFO)
    async with running_bot(emu, db, webhook=webhook, routers=FAILING):
        await user.send_text("/twin")
        update_id = emu.world.next_update_id - 1
        raw = dict(emu.world.updates[-1])
        (sorry,) = await user.wait_for_messages()
        assert sorry.text == t("bot.error.sorry")
        processed = await eventually(db, lambda s: _processed(s, update_id), lambda n: n == 1)
        if webhook:  # Telegram delivers it again anyway (a lost 200): skipped, not failed again
            await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 1, 5)
            emu.world.updates.append(raw)
            emu.world.notify()
            await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 2, 5)
        await user.send_text("still here")  # the bot goes on as usual
        (ack,) = await user.wait_for_messages()
        await user.sleep_until_quiet(0.2)
        async with db() as session:
            twins = await session.scalar(select(func.count()).select_from(Customer).where(Customer.name == "twin"))
    assert ack.text == t("bot.route.stored", number=claim.number)
    assert [m.text for m in user.messages] == [sorry.text, ack.text]
    assert (processed, twins) == (1, 0)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(update_id) in errors[0].getMessage()
    assert errors[0].exc_info is not None and issubclass(errors[0].exc_info[0], IntegrityError)
    if webhook:
        assert emu.stats["webhook_failures"] == 0  # acknowledged (200) every time


async def test_a_failed_update_sends_none_of_its_replies_and_a_commit_in_a_handler_commits(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    """Replies wait for the commit: a handler that queued one and then failed sends nothing but
    the apology, and what it wrote (its conversation state too) is rolled back.
    `session.commit()` in a handler is SQLAlchemy's: it commits there and then (handlers should
    leave that to the middleware)."""
    t = get_translator("en")
    user = emu.user(7007, first_name="Ada", language_code="en")
    async with running_bot(emu, db, routers=FAILING):
        await user.send_text("/rollback")
        (sorry,) = await user.wait_for_messages()
        await user.send_text("/commit")
        (sorry_again,) = await user.wait_for_messages()
        await user.sleep_until_quiet(0.2)
    async with db() as session:
        keys = set((await session.scalars(select(AppMeta.key))).all())
        states = set((await session.scalars(select(FsmRecord.state))).all())
    assert "Failing:step" not in states
    assert sorry.text == sorry_again.text == t("bot.error.sorry")
    assert [m.text for m in user.messages] == [sorry.text, sorry_again.text]
    assert not any(key.startswith("rolled-back") for key in keys)
    assert any(key.startswith("committed-") for key in keys)
