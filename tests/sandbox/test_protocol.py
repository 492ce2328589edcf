"""The HTTP protocol itself, spoken by a plain HTTP client and by aiogram."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramUnauthorizedError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import BotApiEmulator
from bot.sandbox.entities import parse_html, parse_markdown_v2


async def test_envelopes_auth_and_method_names(emu: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emu.base_url}/bot{emu.token}/GETME") as r:
            body = await r.json()
            assert r.status == 200 and body["ok"] is True and body["result"]["is_bot"] is True
        async with http.post(f"{emu.base_url}/bot1:wrong/getMe") as r:
            assert r.status == 401
            assert await r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(emu.api_url("noSuchMethod")) as r:
            assert r.status == 404
            assert (await r.json())["description"] == "Not Found"


async def test_parameters_as_json_form_and_query(emu: BotApiEmulator) -> None:
    emu.user(7, "Bob")
    async with aiohttp.ClientSession() as http:
        async with http.post(emu.api_url("sendMessage"), json={"chat_id": 7, "text": "json"}) as r:
            first = (await r.json())["result"]
            assert first["text"] == "json"
        async with http.post(emu.api_url("sendmessage"), data={"chat_id": "7", "text": "form"}) as r:
            assert (await r.json())["result"]["text"] == "form"
        async with http.get(emu.api_url("sendMessage"), params={"chat_id": "7", "text": "query"}) as r:
            msg = (await r.json())["result"]
    assert (
        msg["text"] == "query"
        and msg["message_id"] == first["message_id"] + 2
        and msg["chat"]
        == {
            "id": 7,
            "type": "private",
            "first_name": "Bob",
        }
    )
    assert [m.text for m in emu.sent(7)] == ["json", "form", "query"]


async def test_aiogram_unauthorized(emu: BotApiEmulator) -> None:
    from tests.sandbox.conftest import make_bot

    wrong = make_bot(emu, token="999:nope")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()


async def test_message_ids_shared_between_user_and_bot(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(1001, "Алиса", language_code="ru")
    first = await alice.send_text("/start ORDER-42")
    n = first["message_id"]
    assert first["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    reply = await bot.send_message(1001, "hi", reply_parameters={"message_id": n})
    assert reply.message_id == n + 1 and reply.reply_to_message and reply.reply_to_message.text == "/start ORDER-42"
    assert (await alice.send_text("again"))["message_id"] == n + 2


async def test_bad_requests_have_telegram_descriptions(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(1, "A")
    cases = [
        (dict(chat_id=42, text="x"), "Bad Request: chat not found"),
        (dict(chat_id=1, text=" "), "Bad Request: message text is empty"),
        (dict(chat_id=1, text="x" * 4097), "Bad Request: message is too long"),
        (dict(chat_id=1, text="<blink>x</blink>", parse_mode="HTML"), 'Unsupported start tag "blink"'),
        (dict(chat_id=1, text="<b>x<i>y</b></i>", parse_mode="HTML"), 'expected "</i>", found "</b>"'),
        (dict(chat_id=1, text="<b>open", parse_mode="HTML"), 'Can\'t find end tag corresponding to start tag "b"'),
        (dict(chat_id=1, text="Tom & Jerry", parse_mode="HTML"), "can't parse entities: Character '&'"),
        (dict(chat_id=1, text="1.5", parse_mode="MarkdownV2"), "Character '.' is reserved"),
        (dict(chat_id=1, text="x", reply_parameters={"message_id": 99}), "message to be replied not found"),
    ]
    for kwargs, expected in cases:
        with pytest.raises(TelegramBadRequest) as err:
            await bot.send_message(**kwargs)
        assert expected in err.value.message, (kwargs, err.value.message)
    # A long text is measured after entity parsing: markup does not count toward 4096.
    ok = await bot.send_message(1, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(ok.text or "") == 4096
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="t", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1, "x", reply_markup=kb)
    assert emu.stats["calls"]["sendMessage"] == len(cases) + 2


def test_html_entities_utf16_offsets() -> None:
    text, ents = parse_html(
        '😀 <b>bold <i>both</i></b> &lt;tag&gt; <a href="https://x.org/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-python">x = 1</code></pre><tg-spoiler>s</tg-spoiler>'
        '<span class="tg-spoiler">t</span><blockquote expandable>q</blockquote>'
    )
    assert text == "😀 bold both <tag> link x = 1stq"
    assert ents[0] == {"offset": 3, "length": 9, "type": "bold"}  # the emoji is 2 UTF-16 units
    assert {"offset": 8, "length": 4, "type": "italic"} in ents
    assert {"offset": 19, "length": 4, "type": "text_link", "url": "https://x.org/?a=1&b=2"} in ents
    assert {"offset": 24, "length": 5, "type": "pre", "language": "python"} in ents
    assert [e["type"] for e in ents][-3:] == ["spoiler", "spoiler", "expandable_blockquote"]
    assert parse_markdown_v2(r"*b* _i_ [l](https://e.com) 1\.5")[0] == "b i l 1.5"


async def test_edits_and_not_modified(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(5, "A")
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data="ok")]])
    msg = await bot.send_message(5, "<b>v1</b>", parse_mode="HTML", reply_markup=kb)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            chat_id=5, message_id=msg.message_id, text="<b>v1</b>", parse_mode="HTML", reply_markup=kb
        )
    edited = await bot.edit_message_text(chat_id=5, message_id=msg.message_id, text="v2", reply_markup=kb)
    assert edited.edit_date is not None and edited.text == "v2"  # type: ignore[union-attr]
    await bot.edit_message_reply_markup(chat_id=5, message_id=msg.message_id, reply_markup=None)
    sent = alice.last
    assert sent is not None and sent.text == "v2" and sent.reply_markup is None
    assert [h["text"] for h in sent.history] == ["v1", "v2"] and sent.history[0]["parse_mode"] == "HTML"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=5, message_id=999, text="x")
    user_msg = await alice.send_text("mine")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(chat_id=5, message_id=user_msg["message_id"], text="x")
    assert await bot.delete_message(5, msg.message_id)
    assert sent.deleted and alice.last is None
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(5, msg.message_id)


async def test_copy_chat_action_and_keyboards(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(8, "A")
    photo = await alice.send_photo(caption="evidence")
    copied = await bot.copy_message(chat_id=8, from_chat_id=8, message_id=photo["message_id"], caption="copy")
    assert alice.last is not None and alice.last.kind == "photo" and alice.last.caption == "copy"
    assert alice.last.message_id == copied.message_id
    assert await bot.send_chat_action(8, "typing") and alice.actions == ["typing"]
    await bot.send_message(
        8,
        "share?",
        reply_markup={"keyboard": [[{"text": "Share phone", "request_contact": True}]], "one_time_keyboard": True},
    )
    assert alice.keyboard is not None
    contact = await alice.tap_keyboard("Share phone")
    assert contact["contact"]["user_id"] == 8 and alice.keyboard is None
    await bot.send_message(8, "bye", reply_markup={"remove_keyboard": True})
    assert alice.keyboard is None


async def test_my_commands_per_language_and_scope(emu: BotApiEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Начать")], language_code="ru")
    await bot.set_my_commands([BotCommand(command="help", description="Help")], scope=BotCommandScopeAllPrivateChats())
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await bot.get_my_commands(language_code="ru")] == ["Начать"]
    assert await bot.get_my_commands(language_code="de") == []
    scoped = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert [c.command for c in scoped] == ["help"]
    assert emu.commands_for("ru") == [{"command": "start", "description": "Начать"}]
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_get_updates_long_poll_offset_and_conflict(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(3, "A")
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 < time.monotonic() - started < 2
    waiter = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await alice.send_text("wake up")
    updates = await asyncio.wait_for(waiter, 2)  # returns early, not after 5 s
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    await alice.send_text("second")
    again = await bot.get_updates()
    assert len(again) == 2  # nothing is confirmed until an offset moves past it
    confirmed = await bot.get_updates(offset=again[-1].update_id + 1)
    assert confirmed == [] and emu.stats["pending_updates"][emu.token] == 0
    # Two pollers at once: the older long poll is terminated with 409, as in Telegram.
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    from aiogram.exceptions import TelegramConflictError

    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await first
    assert await second == []


async def test_several_tokens_are_separate_bots_and_require_start() -> None:
    from tests.sandbox.conftest import make_bot

    emu = BotApiEmulator(tokens=["1:A", "2:B"], require_start=True)
    await emu.start()
    a, b = make_bot(emu, token="1:A"), make_bot(emu, token="2:B")
    try:
        assert (await a.get_me()).id == 1 and (await b.get_me()).id == 2
        user_a = emu.user(9, "Same person", token="1:A")
        emu.user(9, "Same person", token="2:B")
        from aiogram.exceptions import TelegramForbiddenError

        with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
            await a.send_message(9, "cold message")
        start = await user_a.send_text("/start")
        assert (await a.send_message(9, "hi")).message_id == start["message_id"] + 1
        assert await b.get_updates() == []  # updates are per bot
        assert [u.message.text for u in await a.get_updates() if u.message] == ["/start"]
    finally:
        await a.session.close()
        await b.session.close()
        await emu.stop()
