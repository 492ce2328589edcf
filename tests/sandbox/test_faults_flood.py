"""Injected failures and flood control, as seen by aiogram's exception types."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiolimiter import AsyncLimiter

from bot.sandbox import BotApiEmulator, FloodLimits
from bot.sandbox.flood import FloodControl
from tests.sandbox.conftest import make_bot, polling


async def test_injected_http_errors(emu: BotApiEmulator, bot: Bot) -> None:
    emu.user(10, "A")
    emu.faults.inject(method="sendMessage", kind=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as ra:
        await bot.send_message(10, "x")
    assert ra.value.retry_after == 3 and "retry after 3" in ra.value.message
    emu.faults.inject(method="sendMessage", chat_id=10, kind=500, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(10, "x")
    emu.faults.inject(method="sendmessage", kind=502)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(10, "x")
    emu.faults.inject(kind=403)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(10, "x")
    emu.faults.inject(kind=400)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(10, "x")
    assert (await bot.send_message(10, "finally")).text == "finally"
    assert [m.text for m in emu.sent(10)] == ["finally"]  # failed calls sent nothing
    s = emu.stats
    assert (s["responses_429"], s["responses_5xx"], s["faults_injected"]) == (1, 3, 6)
    assert emu.faults.pending == 0


async def test_timeouts_and_dropped_connections(emu: BotApiEmulator) -> None:
    emu.user(11, "A")
    impatient = make_bot(emu, timeout=0.5)
    try:
        emu.faults.inject(method="sendMessage", kind="timeout", hold=1.5)
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(11, "lost")
        assert emu.sent(11) == []
        # timeout_after: executed, but the answer never arrives — the duplicate-send trap.
        emu.faults.inject(method="sendMessage", kind="timeout_after", hold=1.5)
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(11, "delivered anyway")
        assert [m.text for m in emu.sent(11)] == ["delivered anyway"]
        emu.faults.inject(method="sendMessage", kind="drop")
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(11, "dropped")
        assert (await impatient.send_message(11, "ok")).text == "ok"
    finally:
        await impatient.session.close()


async def test_blocked_and_deactivated_users(emu: BotApiEmulator, bot: Bot) -> None:
    alice = emu.user(12, "A")
    bob = emu.user(13, "B")
    emu.block(12)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(12, "x")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(12, "typing")
    updates = await bot.get_updates()
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked"]
    await alice.send_text("/start")  # writing to a blocked bot restarts it
    assert not alice.blocked
    assert (await bot.send_message(12, "welcome back")).text == "welcome back"
    emu.delete_account(13)
    with pytest.raises(TelegramForbiddenError, match="Forbidden: user is deactivated"):
        await bot.send_message(bob.id, "x")


async def test_flood_burst_to_one_chat_gets_429(bot: Bot, emu: BotApiEmulator) -> None:
    emu.user(20, "A")
    emu.flood.limits = FloodLimits(global_limit=30, chat_limit=1, window=1.0)
    emu.flood.enabled = True
    emu.flood.reset()
    first = await bot.send_message(20, "1")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(20, "2")
    assert err.value.retry_after >= 1
    # An edit counts toward the per-chat limit too.
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text(chat_id=20, message_id=first.message_id, text="edited")
    assert emu.stats["flood_429"] == 2 and emu.stats["responses_429"] == 2


async def test_flood_paced_client_is_never_punished(emu: BotApiEmulator, bot: Bot) -> None:
    for uid in range(30, 36):
        emu.user(uid, "U")
    # 10/s per chat keeps the test short; the model is the same as Telegram's 1/s.
    emu.flood.limits = FloodLimits(global_limit=30, chat_limit=10, window=1.0)
    emu.flood.enabled = True
    emu.flood.reset()
    per_chat = {uid: AsyncLimiter(10, 1) for uid in range(30, 36)}
    overall = AsyncLimiter(30, 1)

    async def paced(uid: int, n: int) -> None:
        for i in range(n):
            async with overall, per_chat[uid]:
                await bot.send_message(uid, f"{i}")

    started = time.monotonic()
    await asyncio.gather(*(paced(uid, 12) for uid in range(30, 36)))  # 72 messages, > 2 s of budget
    assert time.monotonic() - started > 1.0
    assert emu.stats["flood_429"] == 0
    # The same volume unpaced is rejected.
    results = await asyncio.gather(*(bot.send_message(30, "burst") for _ in range(40)), return_exceptions=True)
    assert any(isinstance(r, TelegramRetryAfter) for r in results)


def test_flood_model_tolerates_jitter_but_not_overrate() -> None:
    now = [0.0]
    fc = FloodControl(FloodLimits(chat_limit=1, window=1.0, tolerance=0.05), enabled=True, clock=lambda: now[0])
    assert fc.check(1) is None
    now[0] = 0.97  # 30 ms early: forgiven
    assert fc.check(1) is None
    now[0] = 1.5  # 0.47 s early against the 1.97 s slot: rejected, whole seconds
    assert fc.check(1) == 1
    assert fc.check(2) is None  # other chats are independent


async def test_polling_bot_survives_faults_on_get_updates(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: object) -> None:
        from aiogram.types import Message

        assert isinstance(message, Message)
        await message.answer("pong")

    alice = emu.user(40, "A")
    emu.faults.inject(method="getUpdates", kind=502)
    async with polling(dp, bot, emu):
        await alice.send_text("ping")
        (reply,) = await alice.wait_for_messages(timeout=6)
    assert reply.text == "pong" and emu.stats["responses_5xx"] == 1
