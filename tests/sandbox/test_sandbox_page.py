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
    emu = await serve_sandbox("127.0.0.1", 0, "42:SANDBOX", staff_group=-100500)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{emu.base_url}/bot42:SANDBOX/getMe") as r:
                assert (await r.json())["result"]["id"] == 42
            # STAFF_CHAT_ID's group is there: a forum where the bot manages topics.
            params = {"chat_id": "-100500", "user_id": "42"}
            async with http.get(f"{emu.base_url}/bot42:SANDBOX/getChatMember", params=params) as r:
                member = (await r.json())["result"]
    finally:
        await emu.stop()
    assert member["status"] == "administrator" and member["can_manage_topics"] is True
    assert emu.group(-100500).chat.is_forum


async def test_control_api_drives_the_staff_group(emu: BotApiEmulator, bot: Bot) -> None:
    base = f"{emu.base_url}/sandbox/api"
    gid = -1001000000001
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/groups", json={"chat_id": gid, "title": "Staff"}) as r:
            assert r.status == 403  # the CSRF guard covers the group API too
        async with http.post(f"{base}/groups", json={"chat_id": gid, "title": "Staff"}, headers=H) as r:
            assert r.status == 200
        async with http.post(f"{base}/groups", json={"chat_id": gid}, headers=H) as r:
            assert r.status == 400  # it exists already
        topic = await bot.create_forum_topic(gid, "<b>2026-000001</b>")  # the page's group is a real forum
        kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take")]])
        card = await bot.send_message(gid, "card", message_thread_id=topic.message_thread_id, reply_markup=kb)
        member = {"chat_id": gid, "user_id": 501}
        async with http.post(f"{base}/group/send", json={**member, "text": "hi"}, headers=H) as r:
            assert r.status == 400 and "join it first" in await r.text()
        async with http.post(
            f"{base}/group/member", json={**member, "first_name": "<img src=x onerror=alert(1)>"}, headers=H
        ) as r:
            assert r.status == 200
        sent = {**member, "thread_id": topic.message_thread_id, "text": "<script>alert(1)</script>"}
        async with http.post(f"{base}/group/send", json=sent, headers=H) as r:
            assert r.status == 200
        async with http.post(
            f"{base}/group/press", json={**member, "message_id": card.message_id, "data": "take"}, headers=H
        ) as r:
            assert r.status == 200
        close = {**member, "action": "close", "thread_id": topic.message_thread_id}
        async with http.post(f"{base}/group/topic", json=close, headers=H) as r:
            assert r.status == 400 and "may not manage topics" in await r.text()  # a plain member
        async with http.post(
            f"{base}/group/member", json={**member, "first_name": "Anna", "admin": True}, headers=H
        ) as r:
            assert r.status == 200
        async with http.post(f"{base}/group/topic", json=close, headers=H) as r:
            assert r.status == 200
        async with http.get(f"{base}/group", params={"chat_id": str(gid)}) as r:
            group = await r.json()
        async with http.get(f"{base}/state") as r:
            state = await r.json()
    assert state["groups"] == [{"id": gid, "type": "supergroup", "title": "Staff", "is_forum": True, "topics": 1}]
    assert group["bot"] == {
        "status": "administrator",
        "rights": {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True},
    }
    assert group["topics"] == [
        {"id": topic.message_thread_id, "name": "<b>2026-000001</b>", "closed": True, "color": "#6fb9f0", "icon": None}
    ]
    views = [(m["from"], m.get("service"), m["text"], m["thread"]) for m in group["messages"]]
    tid = topic.message_thread_id
    assert views == [
        ("bot", "created the topic «<b>2026-000001</b>»", "", tid),
        ("bot", None, "card", tid),
        ("user", None, "<script>alert(1)</script>", tid),
        ("user", "closed the topic", "", tid),
    ]
    assert group["messages"][2]["sender"] == {"id": 501, "name": "<img src=x onerror=alert(1)>"}
    updates = await bot.get_updates()
    assert [u.callback_query.data for u in updates if u.callback_query] == ["take"]
