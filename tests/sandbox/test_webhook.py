"""Webhook mode: delivery with the secret header, redelivery after failures, 409 for getUpdates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.sandbox import BotApiEmulator

Receiver = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def site() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        s = web.TCPSite(runner, "127.0.0.1", 0)
        await s.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield serve
    for r in runners:
        await r.cleanup()


async def test_delivery_secret_and_redelivery(emu: BotApiEmulator, bot: Bot, site: object) -> None:
    seen: list[tuple[int, str | None]] = []
    failures_left = [1]

    async def receive(request: web.Request) -> web.StreamResponse:
        update = await request.json()
        seen.append((update["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        if failures_left[0]:
            failures_left[0] -= 1
            return web.Response(status=500)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", receive)
    base = await site(app)  # type: ignore[operator]
    alice = emu.user(50, "A")
    await alice.send_text("queued before the webhook")
    first = emu.world.updates[-1]["update_id"]
    assert await bot.set_webhook(f"{base}/hook", secret_token="s3cr3t_token")
    with pytest.raises(TelegramConflictError, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    await alice.send_text("second")
    await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 2, 5)
    # The first attempt got a 500: the same update came again, then the next one, in order.
    assert seen == [(first, "s3cr3t_token"), (first, "s3cr3t_token"), (first + 1, "s3cr3t_token")]
    info = await bot.get_webhook_info()
    assert info.url == f"{base}/hook" and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert (emu.stats["webhook_attempts"], emu.stats["webhook_failures"]) == (3, 1)
    assert await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_unreachable_webhook_keeps_updates(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(51, "A")
    await bot.set_webhook("http://127.0.0.1:9/nothing-listens-here", drop_pending_updates=True)
    await alice.send_text("kept")
    await emu.world.wait_for(lambda: emu.stats["webhook_failures"] >= 2, 5)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_date is not None
    await bot.delete_webhook()
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.text == "kept"


async def test_aiogram_webhook_handler_and_reply_in_response(emu: BotApiEmulator, bot: Bot, site: object) -> None:
    dp = Dispatcher()

    @dp.message(F.text == "inline")
    async def inline_reply(message: Message) -> SendMessage:
        # Returned, not awaited: aiogram puts the call into the webhook response body.
        return message.answer("answered in the webhook response")

    @dp.message(F.text)
    async def normal(message: Message) -> None:
        await message.answer(f"got {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="tok", handle_in_background=False).register(app, path="/tg")
    base = await site(app)  # type: ignore[operator]
    await bot.set_webhook(f"{base}/tg", secret_token="tok")
    alice = emu.user(52, "A")
    await alice.send_text("hello")
    await alice.send_text("inline")
    replies = await alice.wait_for_messages(n=2)
    assert [r.text for r in replies] == ["got hello", "answered in the webhook response"]
    # Wrong secret: aiogram answers 401 and the emulator keeps retrying.
    await bot.set_webhook(f"{base}/tg", secret_token="other")
    await alice.send_text("lost?")
    await emu.world.wait_for(lambda: emu.stats["webhook_failures"] >= 1, 5)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and "401" in (info.last_error_message or "")
    await bot.set_webhook(f"{base}/tg", secret_token="tok")
    (late,) = await alice.wait_for_messages()
    assert late.text == "got lost?"


async def test_concurrent_delivery_keeps_each_chat_in_order(emu: BotApiEmulator, bot: Bot, site: object) -> None:
    """Up to max_connections requests at once, one per chat, each chat in order; a failing chat
    is delivered again without holding the others up."""
    in_flight: set[int] = set()
    most = [0]
    seen: dict[int, list[int]] = {}
    fail_once = {"chat 60 message 0"}
    release = asyncio.Event()

    async def receive(request: web.Request) -> web.StreamResponse:
        update = await request.json()
        chat = update["message"]["chat"]["id"]
        assert chat not in in_flight, "two updates of one chat in flight"
        in_flight.add(chat)
        most[0] = max(most[0], len(in_flight))
        try:
            if len(in_flight) >= 4:
                release.set()
            await asyncio.wait_for(release.wait(), 2)
            seen.setdefault(chat, []).append(update["update_id"])
            if update["message"]["text"] in fail_once:
                fail_once.discard(update["message"]["text"])
                return web.Response(status=500)
            return web.json_response({})
        finally:
            in_flight.discard(chat)

    app = web.Application()
    app.router.add_post("/hook", receive)
    base = await site(app)  # type: ignore[operator]
    users = [emu.user(60 + i, f"U{i}") for i in range(8)]
    sent: dict[int, list[int]] = {}
    for n in range(5):
        for user in users:
            await user.send_text(f"chat {user.id} message {n}")
            sent.setdefault(user.id, []).append(emu.world.updates[-1]["update_id"])
    assert await bot.set_webhook(f"{base}/hook", max_connections=4)
    await emu.world.wait_for(lambda: emu.stats["webhook_delivered"] == 40, 10)
    assert most[0] == 4  # concurrent, and never more than max_connections
    assert emu.stats["webhook_failures"] == 1
    first, *rest = sent[60]
    assert seen[60] == [first, first, *rest]  # redelivered first, then the rest in order
    assert all(seen[user.id] == sent[user.id] for user in users[1:])
    assert (await bot.get_webhook_info()).pending_update_count == 0
