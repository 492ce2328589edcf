"""Several workers at once, and a worker killed in the middle of a batch."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter

from sqlalchemy import text

from bot.sandbox import BotApiEmulator
from tests.delivery.conftest import ROOT, TOKEN, running_worker, wait_until

CHATS = 200
PER_CHAT = 10


async def _queue(db, *, chats: int, per_chat: int, first_chat: int = 70_000) -> None:
    """chats x per_chat messages, interleaved as they would arrive: message k of every chat,
    then message k+1 ..."""
    async with db() as session, session.begin():
        await session.execute(
            text(
                """
                INSERT INTO outbox_message (chat_id, method, payload, status)
                SELECT :first + (g % :chats), 'sendMessage',
                       jsonb_build_object('text', (:first + (g % :chats))::text || '#' || (g / :chats)::text),
                       'pending'
                FROM generate_series(0, :n - 1) AS g
                ORDER BY g
                """
            ),
            {"first": first_chat, "chats": chats, "n": chats * per_chat},
        )


async def _statuses(db) -> dict[str, int]:
    async with db() as session:
        rows = await session.execute(text("SELECT status, count(*) FROM outbox_message GROUP BY status"))
        return dict(rows.all())  # type: ignore[arg-type]


def _check_chats(emu: BotApiEmulator, *, chats: int, per_chat: int, first_chat: int = 70_000) -> Counter[str]:
    """Per-chat order of the first copies, and how many copies of each message arrived."""
    copies: Counter[str] = Counter()
    for chat in range(first_chat, first_chat + chats):
        texts = [m.text or "" for m in emu.sent(chat)]
        copies.update(texts)
        firsts = list(dict.fromkeys(texts))
        assert firsts == [f"{chat}#{k}" for k in range(per_chat)], (chat, texts)
    return copies


async def test_two_workers_deliver_each_message_exactly_once_in_order(db, emu: BotApiEmulator, database_url) -> None:
    for chat in range(70_000, 70_000 + CHATS):
        emu.user(chat, "U")
    await _queue(db, chats=CHATS, per_chat=PER_CHAT)
    # Flood limits are off in the emulator here: this is about correctness, not pacing.
    fast = {"total_per_second": 100_000, "chat_interval": 0.001, "max_in_flight": 64}
    async with (
        running_worker(db, emu, database_url, **fast) as first,
        running_worker(db, emu, database_url, **fast) as second,
    ):

        async def all_sent() -> bool:
            return (await _statuses(db)).get("sent", 0) == CHATS * PER_CHAT

        await wait_until(all_sent, timeout=90, interval=0.2)
    copies = _check_chats(emu, chats=CHATS, per_chat=PER_CHAT)
    assert len(copies) == CHATS * PER_CHAT and set(copies.values()) == {1}  # none lost, none twice
    assert emu.stats["calls"]["sendMessage"] == CHATS * PER_CHAT
    assert first.stats["sent"] > 0 and second.stats["sent"] > 0
    assert first.stats["sent"] + second.stats["sent"] == CHATS * PER_CHAT


async def test_killed_worker_loses_nothing(db, emu: BotApiEmulator, database_url: str) -> None:
    chats, per_chat = 50, 6
    for chat in range(70_000, 70_000 + chats):
        emu.user(chat, "U")
    await _queue(db, chats=chats, per_chat=per_chat)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emu.base_url,
    }
    # A real worker process, slowed to 40 messages/s so that it is mid-batch when it dies.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "claimdesk",
        "worker",
        "--lease-seconds",
        "2",
        "--rate",
        "40",
        "--no-sweep",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def some_sent() -> bool:
            return sum(len(emu.sent(c)) for c in range(70_000, 70_000 + chats)) >= 60

        # Generous: a worker process importing aiogram on a loaded 2-core machine can take a while to start.
        await wait_until(some_sent, timeout=120, interval=0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    at_kill = await _statuses(db)
    assert at_kill.get("sending", 0) > 0  # it died holding leases
    assert at_kill.get("sent", 0) < chats * per_chat
    async with running_worker(db, emu, database_url, total_per_second=1000, chat_interval=0.001, lease_seconds=2):

        async def all_sent() -> bool:
            return (await _statuses(db)).get("sent", 0) == chats * per_chat

        await wait_until(all_sent, timeout=90, interval=0.1)
    copies = _check_chats(emu, chats=chats, per_chat=per_chat)
    assert len(copies) == chats * per_chat  # every message delivered
    # At-least-once: only a message the dead worker had sent but not yet recorded can repeat.
    duplicated = sum(n - 1 for n in copies.values())
    assert duplicated <= at_kill.get("sending", 0)
