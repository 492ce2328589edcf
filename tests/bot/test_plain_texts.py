"""The one-statement path of plain texts (bot.plain_texts): which updates take it, that it stores
exactly what the routers' path stores, and that it hands every other case to the routers."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, UserContextMiddleware
from aiogram.filters import StateFilter
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import DisabledEventIsolation
from aiogram.types import Message, Update
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import PLAIN_TEXTS, create_bot
from bot.fsm import PostgresStorage
from bot.plain_texts import HANDLE, PlainText, plain_text_of, plain_text_of_json, plain_text_prefixes
from bot.routers import build_routers
from bot.sandbox import BotApiEmulator
from shared.audit.models import ClaimEvent
from shared.customers.models import Customer
from shared.i18n import get_translator
from shared.interactions.service import MAX_TEXT
from shared.settings import get_settings
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed


def _message(**fields: Any) -> dict[str, Any]:
    message = {
        "message_id": 5,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private", "first_name": "Ada"},
        "from": {"id": 42, "is_bot": False, "first_name": "Ada", "username": "ada"},
        "text": "Где мой заказ?",
    }
    message.update(fields)
    return {key: value for key, value in message.items() if value is not None}


RAW_UPDATES: dict[str, tuple[dict[str, Any], bool]] = {
    "plain": ({"update_id": 1, "message": _message()}, True),
    "no username": (
        {"update_id": 1, "message": _message(**{"from": {"id": 42, "is_bot": False, "first_name": "A"}})},
        True,
    ),
    "command": ({"update_id": 1, "message": _message(text="/help")}, False),
    "command after spaces": ({"update_id": 1, "message": _message(text="  /start x")}, False),
    "blank": ({"update_id": 1, "message": _message(text="   ")}, False),
    "too long": ({"update_id": 1, "message": _message(text="я" * (MAX_TEXT + 1))}, False),
    "longest": ({"update_id": 1, "message": _message(text="я" * MAX_TEXT)}, True),
    "caption": (
        {
            "update_id": 1,
            "message": _message(
                text=None, caption="x", photo=[{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
            ),
        },
        False,
    ),
    "group": ({"update_id": 1, "message": _message(chat={"id": -5, "type": "group", "title": "g"})}, False),
    "from a bot": (
        {"update_id": 1, "message": _message(**{"from": {"id": 42, "is_bot": True, "first_name": "B"}})},
        False,
    ),
    "topic": ({"update_id": 1, "message": _message(message_thread_id=3, is_topic_message=True)}, False),
    "business": ({"update_id": 1, "message": _message(business_connection_id="b1")}, False),
    "edited": ({"update_id": 1, "edited_message": _message(edit_date=1_700_000_001)}, False),
}


@pytest.mark.parametrize("name", RAW_UPDATES)
async def test_the_json_and_the_parsed_update_agree_on_what_is_a_plain_text(name: str) -> None:
    raw, plain = RAW_UPDATES[name]
    bot = create_bot(get_settings(), token="42:TEST", api_base="http://127.0.0.1:1")
    try:
        update = Update.model_validate(raw, context={"bot": bot})
        context = UserContextMiddleware.resolve_event_context(update)
        from_json = plain_text_of_json(raw, "/")
        from_update = plain_text_of(update, context, "/")
    finally:
        await bot.session.close()
    assert from_json == from_update
    assert (from_json is not None) == plain
    if plain:
        message = raw["message"]
        assert from_json == PlainText(1, 42, 42, message["from"].get("username"), 5, message["text"])


def test_unusual_json_is_left_to_aiogram() -> None:
    ok = {"update_id": 1, "message": _message()}
    assert plain_text_of_json(ok, "/") is not None
    assert plain_text_of_json({**ok, "edited_message": _message()}, "/") is None  # two events in one update
    assert plain_text_of_json({"update_id": "1", "message": _message()}, "/") is None
    assert plain_text_of_json({"update_id": 1, "message": _message(message_id=True)}, "/") is None
    assert (
        plain_text_of_json({"update_id": 1, "message": _message(sender_chat={"id": 1, "type": "channel"})}, "/") is None
    )
    assert plain_text_of_json([ok], "/") is None


async def test_the_fsm_record_read_is_the_one_aiogram_would_use(db: async_sessionmaker[AsyncSession]) -> None:
    storage = PostgresStorage(db)
    bot = create_bot(get_settings(), token="42:TEST", api_base="http://127.0.0.1:1")
    try:
        update = Update.model_validate({"update_id": 1, "message": _message()}, context={"bot": bot})
        data = {"bot": bot, EVENT_CONTEXT_KEY: UserContextMiddleware.resolve_event_context(update)}
        context = FSMContextMiddleware(
            storage=storage, events_isolation=DisabledEventIsolation()
        ).resolve_event_context(bot, data)
        assert context is not None
        assert storage.key_builder.build(context.key) == storage.key_builder.build(
            StorageKey(bot_id=bot.id, chat_id=42, user_id=42)
        )
    finally:
        await bot.session.close()


def test_the_path_is_on_only_while_a_plain_text_can_reach_nothing_but_the_catch_all() -> None:
    def dispatcher(*extra: Router) -> Dispatcher:
        dp = Dispatcher()
        routers = build_routers()
        dp.include_routers(*routers[:-1], *extra, routers[-1])
        return dp

    assert plain_text_prefixes(dispatcher()) == "/"
    menu = Router()
    menu.message.register(lambda message: None, F.text == "Меню")
    assert plain_text_prefixes(dispatcher(menu)) is None
    idle = Router()
    idle.message.register(lambda message: None, StateFilter(None))
    assert plain_text_prefixes(dispatcher(idle)) is None
    bang = Router()
    from aiogram.filters import Command

    bang.message.register(lambda message: None, Command("x", prefix="!"))
    assert plain_text_prefixes(dispatcher(bang)) == "!/"
    watched = dispatcher()
    catch_all = watched.sub_routers[-1]

    async def middleware(handler: Any, event: Message, data: dict[str, Any]) -> Any:
        return await handler(event, data)

    catch_all.message.middleware(middleware)
    assert plain_text_prefixes(watched) is None


async def _events(session: AsyncSession, claim_id: int) -> int:
    query = (
        select(func.count())
        .select_from(ClaimEvent)
        .where(ClaimEvent.claim_id == claim_id, ClaimEvent.kind == "interaction_added")
    )
    return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_plain_texts_are_stored_directly_and_everything_else_through_the_routers(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], webhook: bool
) -> None:
    t = get_translator("en")
    user = emu.user(7301, first_name="Ada", language_code="en", username="ada")
    customer, (claim,) = await seed(db, 7301, lang="en")  # recorded without the username
    async with running_bot(emu, db, webhook=webhook) as running:
        texts = running.dp[PLAIN_TEXTS]
        taken: list[str] = []
        handle = texts.handle

        async def spy(bot: Any, text: PlainText) -> Any:
            result = await handle(bot, text)
            taken.append(f"{text.text}: {'routers' if result is HANDLE else 'direct'}")
            return result

        texts.handle = spy
        await user.send_text("first <b>")  # the username is new: the routers record it
        (first,) = await user.wait_for_messages()
        await user.send_text("second")
        (second,) = await user.wait_for_messages()
        await user.send_text("third")  # stored; the acknowledgement is throttled
        await user.sleep_until_quiet(0.3)
        await user.send_text("/new")  # a command: never offered
        await user.wait_for_messages()
        await user.send_text("My kettle broke")  # a wizard answer: offered, handed to the routers
        (asked,) = await user.wait_for_messages()
        stored = await eventually(db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 3)
        async with db() as session:
            events = await _events(session, claim.id)
            username = (await session.get_one(Customer, customer.id)).username
    assert taken == ["first <b>: routers", "second: direct", "third: direct", "My kettle broke: routers"]
    assert first.text == second.text == t("bot.route.stored", number=claim.number)
    assert asked.text == t("bot.intake.ask_files")
    assert (stored, events, username) == (3, 3, "ada")


async def test_texts_of_many_chats_share_statements_and_fall_back_together(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts that arrive while the statements run go together into the next one; when a statement
    fails, each of its texts goes through the routers on its own (stored once all the same)."""
    t = get_translator("ru")
    users = [emu.user(7400 + i, first_name=f"U{i}", language_code="ru") for i in range(30)]
    claims = {user.id: (await seed(db, user.id))[1][0] for user in users}
    async with running_bot(emu, db, webhook=True) as running:
        texts = running.dp[PLAIN_TEXTS]
        sizes: list[int] = []
        run = texts._run

        async def counted(batch: list[Any]) -> None:
            sizes.append(len(batch))
            await run(batch)

        texts._run = counted
        for user in users:
            await user.send_text(f"Где деньги, {user.id}?")
        for user in users:
            (ack,) = await user.wait_for_messages()
            assert ack.text == t("bot.route.stored", number=claims[user.id].number)
        direct = list(sizes)
        monkeypatch.setattr("bot.plain_texts._STORE", "SELECT * FROM no_such_function($1, $2)")
        for user in users[:10]:
            await user.send_text("ещё раз")
        await eventually(db, lambda s: count_interactions(s), lambda n: n == 40)
        await users[0].sleep_until_quiet(0.3)
        async with db() as session:
            per_claim = [await count_interactions(session, claim_id=claims[user.id].id) for user in users]
    assert sum(direct) == 30 and max(direct) > 1  # fewer statements than texts
    assert sum(sizes) - sum(direct) == 10
    assert per_claim == [2] * 10 + [1] * 20
