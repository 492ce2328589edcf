"""The browser sandbox: page, control API and its CSRF guard, with a real bot answering."""

from __future__ import annotations

import html

import aiohttp
from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.sandbox import BotApiEmulator, serve_sandbox
from tests.sandbox.conftest import polling

H = {"X-Sandbox": "1"}


async def test_page_is_self_contained(emu: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{emu.base_url}/sandbox/") as r:
        html = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        assert "Content-Security-Policy" in r.headers
    assert "<script>" in html and "http://" not in html and "https://" not in html  # no CDN
    assert "innerHTML" not in html  # all text goes through textContent


async def test_control_api_drives_a_conversation(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"<i>{html.escape(message.text or '')}</i>", parse_mode="HTML", reply_markup=kb)

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        await message.answer(f"phone {message.contact.phone_number}")

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("pressed!")

    base = f"{emu.base_url}/sandbox/api"
    async with polling(dp, bot, emu), aiohttp.ClientSession() as http:
        async with http.post(f"{base}/send", json={"user_id": 77, "text": "hi"}) as r:
            assert r.status == 403  # no X-Sandbox header: a foreign page cannot post here
        async with http.post(f"{base}/users", json={"user_id": 77, "first_name": "Dev"}, headers=H) as r:
            assert r.status == 200
        async with http.post(f"{base}/send", json={"user_id": 77, "text": "<script>x</script>"}, headers=H) as r:
            assert r.status == 200
        dev = emu.user(77)
        (reply,) = await dev.wait_for_messages()
        async with http.post(
            f"{base}/press", json={"user_id": 77, "message_id": reply.message_id, "data": "ok"}, headers=H
        ) as r:
            assert r.status == 200
        await dev.wait_for(lambda u: u.answers)
        async with http.post(f"{base}/contact", json={"user_id": 77, "phone_number": "+7 900"}, headers=H) as r:
            assert r.status == 200
        await dev.wait_for_messages()
        form = aiohttp.FormData()
        form.add_field("user_id", "77")
        form.add_field("file", b"hello", filename="note.txt", content_type="text/plain")
        async with http.post(f"{base}/upload", data=form, headers=H) as r:
            assert r.status == 200
        async with http.get(f"{base}/chat", params={"user_id": "77"}) as r:
            chat = await r.json()
    texts = [(m["from"], m["text"]) for m in chat["messages"]]
    assert texts[:4] == [
        ("user", "<script>x</script>"),
        ("bot", "<script>x</script>"),
        ("user", "📇 Dev +7 900"),
        ("bot", "phone +7 900"),
    ]
    assert chat["messages"][1]["buttons"] == [[{"text": "OK", "callback_data": "ok"}]]
    assert chat["messages"][-1]["file"]["name"] == "note.txt"
    assert chat["answers"][-1]["text"] == "pressed!"


async def test_serve_sandbox_entry_point() -> None:
    emu = await serve_sandbox("127.0.0.1", 0, "42:SANDBOX")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{emu.base_url}/bot42:SANDBOX/getMe") as r:
            assert (await r.json())["result"]["id"] == 42
    finally:
        await emu.stop()
