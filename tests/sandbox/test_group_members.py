"""Several people in a staff group: they post in topics, reply, press the bot's buttons, and the bot
gets those updates (supergroup, message_thread_id), by long polling and by webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.sandbox import BotApiEmulator
from tests.sandbox.conftest import polling

STAFF = -1005550001


def _staff_bot(seen: list[tuple[Any, ...]]) -> Dispatcher:
    """A bot that notes every group message and button press, and answers presses."""
    dp = Dispatcher()

    @dp.message(F.chat.type == "supergroup")
    async def in_group(message: Message) -> None:
        assert message.from_user is not None
        if message.forum_topic_created is not None:
            seen.append(("topic", message.message_thread_id, message.forum_topic_created.name))
            return
        replied = message.reply_to_message
        seen.append(
            (
                "message",
                message.from_user.id,
                message.message_thread_id if message.is_topic_message else None,
                message.text or message.caption,
                replied.message_id if replied is not None and replied.forum_topic_created is None else None,
            )
        )

    @dp.edited_message(F.chat.type == "supergroup")
    async def edited(message: Message) -> None:
        seen.append(("edited", message.message_thread_id, message.text))

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        seen.append(("press", query.from_user.id, query.message.message_thread_id, query.data))
        await query.answer(f"taken by {query.from_user.first_name}")

    return dp


async def _conversation(emu: BotApiEmulator, bot: Bot, seen: list[tuple[Any, ...]]) -> None:
    staff = emu.group(STAFF)
    anna = staff.member(501, "Anna", admin=True, can_manage_topics=True)
    boris = staff.member(502, "Boris")
    topic = await bot.create_forum_topic(STAFF, "2026-000001 · new · Vera")
    tid = topic.message_thread_id
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take:1")]])
    card = await bot.send_message(STAFF, "Claim 2026-000001", message_thread_id=tid, reply_markup=kb)

    first = await anna.in_topic(tid).send_text("I'll call her")
    await boris.send_text("a reply to the card", reply_to=card.message_id)  # lands in the card's topic
    await anna.in_topic(tid).send_photo(caption="the receipt")
    await boris.send_text("in the General topic")
    await anna.press(card.message_id, "take:1")
    await boris.press(card.message_id, text="Take")
    await anna.edit(first, "I'll call her at 5")
    await emu.world.wait_for(lambda: len(seen) == 8, 5)
    # aiogram handles updates concurrently: the order of handling is not the order of updates.
    assert sorted(seen, key=repr) == sorted(
        [
            ("topic", tid, "2026-000001 · new · Vera"),
            ("message", 501, tid, "I'll call her", None),
            ("message", 502, tid, "a reply to the card", card.message_id),
            ("message", 501, tid, "the receipt", None),
            ("message", 502, None, "in the General topic", None),
            ("press", 501, tid, "take:1"),
            ("press", 502, tid, "take:1"),
            ("edited", tid, "I'll call her at 5"),
        ],
        key=repr,
    )
    await emu.world.wait_for(lambda: len(staff.answers) == 2, 5)
    assert sorted((a["from_id"], a["text"]) for a in staff.answers) == [(501, "taken by Anna"), (502, "taken by Boris")]
    with pytest.raises(PermissionError, match="may not manage topics"):
        boris.close_topic(tid)
    anna.close_topic(tid)
    with pytest.raises(PermissionError, match="TOPIC_CLOSED"):
        await boris.in_topic(tid).send_text("too late")


async def test_members_by_polling(emu: BotApiEmulator, bot: Bot) -> None:
    seen: list[tuple[Any, ...]] = []
    emu.supergroup(STAFF, "Staff")
    async with polling(_staff_bot(seen), bot, emu):
        await _conversation(emu, bot, seen)


@pytest.fixture
async def site() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield serve
    for r in runners:
        await r.cleanup()


async def test_members_by_webhook(
    emu: BotApiEmulator, bot: Bot, site: Callable[[web.Application], Awaitable[str]]
) -> None:
    seen: list[tuple[Any, ...]] = []
    emu.supergroup(STAFF, "Staff")
    app = web.Application()
    SimpleRequestHandler(_staff_bot(seen), bot, handle_in_background=False).register(app, path="/tg")
    await bot.set_webhook(f"{await site(app)}/tg", drop_pending_updates=True)
    await _conversation(emu, bot, seen)
    assert emu.stats["webhook_failures"] == 0


async def test_privacy_mode_of_a_bot_that_is_no_administrator(emu: BotApiEmulator, bot: Bot) -> None:
    """A plain member bot gets commands, replies to its own messages and service messages only."""
    seen: list[tuple[Any, ...]] = []
    staff = emu.supergroup(STAFF, "Staff", bot="member")
    owner = staff.member(staff.owner["id"])
    async with polling(_staff_bot(seen), bot, emu):
        note = await bot.send_message(STAFF, "a note from the bot")
        await owner.send_text("chatter the bot does not see")
        await owner.send_text("/status")
        await owner.send_text("an answer to the bot", reply_to=note.message_id)
        topic = owner.create_topic("made by a person")
        await emu.world.wait_for(lambda: len(seen) == 3, 5)
    assert sorted(seen, key=repr) == sorted(
        [
            ("message", owner.id, None, "/status", None),
            ("message", owner.id, None, "an answer to the bot", note.message_id),
            ("topic", topic.thread_id, "made by a person"),
        ],
        key=repr,
    )
