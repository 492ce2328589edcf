"""Delivery under Telegram's limits: the outbox worker against the emulator enforcing them.

    .venv/bin/python bench/delivery.py [--chats 1000] [--single 100]

Phase 1 queues one message to each of `--chats` chats (floor: chats / 30 s); phase 2 queues
`--single` messages to one chat (floor: single x 1 s). The worker runs as a child process
(`claimdesk worker`), as in production; the emulator runs here with flood limits on and counts
every 429 it answers. Beside the emulator's own limits (a leaky bucket, as Telegram documents them),
an independent strict counter takes every sendMessage's arrival time: the most in any sliding
second (Telegram allows 30) and the shortest gap between two sends to one chat (1 s): what a
stricter Telegram would have refused. Prints elapsed time against each floor, 429s, the strict
counts, lost and duplicated messages.
Targets: within 10% of each floor, zero 429s, at most 30 in any sliding second, no chat twice
within a second, zero lost, zero duplicated.

The database is a fresh `claimdesk_bench_delivery` on DATABASE_URL's server (or the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "claimdesk_bench_delivery"
TOKEN = "123456:BENCH-delivery"
FIRST_CHAT = 500_000
SINGLE_CHAT = 400_000
WARMUP_CHAT = 399_999
TOTAL_RATE = 30.0
CHAT_INTERVAL = 1.0


async def prepare(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    from shared import migrate
    from shared.db import asyncpg_dsn

    admin = asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=BENCH_DB, drivername="postgresql+asyncpg")
    rendered = url.render_as_string(hide_password=False)
    await migrate.upgrade(rendered)
    return rendered


async def enqueue(dsn: str, chats: list[int], tag: str) -> None:
    """One transaction, like a burst of changes; the NOTIFY reaches the worker at commit."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO outbox_message (chat_id, method, payload, status)
                SELECT c, 'sendMessage', jsonb_build_object('text', $2 || '#' || n::text), 'pending'
                FROM unnest($1::bigint[]) WITH ORDINALITY AS t(c, n)
                ORDER BY n
                """,
                chats,
                tag,
            )
            await conn.execute("SELECT pg_notify('claimdesk_outbox', '')")
    finally:
        await conn.close()


def delivered(emu, chats: set[int], tag: str) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    for chat in chats:
        out.extend(m.text or "" for m in emu.sent(chat) if (m.text or "").startswith(tag + "#"))
    return out


class StrictCounter:
    """Every sendMessage's arrival (time, chat), taken where the emulator records its calls."""

    def __init__(self, emu) -> None:  # type: ignore[no-untyped-def]
        self.arrivals: list[tuple[float, str]] = []
        record = emu.methods.record

        def counting(name: str, params: dict) -> None:  # type: ignore[type-arg]
            if name == "sendMessage":
                self.arrivals.append((time.monotonic(), str(params.get("chat_id"))))
            record(name, params)

        emu.methods.record = counting

    def since(self, start: float) -> tuple[int, float]:
        """The most sends in any sliding second, and the shortest gap between two sends to one chat."""
        times = sorted(t for t, _ in self.arrivals if t >= start)
        most = max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)
        last: dict[str, float] = {}
        gap = float("inf")
        for t, chat in sorted(a for a in self.arrivals if a[0] >= start):
            if chat in last:
                gap = min(gap, t - last[chat])
            last[chat] = t
        return most, gap


async def phase(emu, strict: StrictCounter, dsn: str, chats: list[int], tag: str, floor: float) -> dict[str, float]:  # type: ignore[no-untyped-def]
    targets = set(chats)
    expected = len(chats)
    before_429 = emu.stats["responses_429"]
    counter = {"n": 0}

    def done() -> bool:
        counter["n"] = sum(1 for c in targets for m in emu.sent(c) if (m.text or "").startswith(tag + "#"))
        return counter["n"] >= expected

    started = time.monotonic()
    await enqueue(dsn, chats, tag)
    try:
        await emu.world.wait_for(done, timeout=floor * 3 + 30)
    except TimeoutError:
        pass
    elapsed = time.monotonic() - started
    await asyncio.sleep(3.0)  # anything sent twice would arrive now
    texts = delivered(emu, targets, tag)
    copies = Counter(texts)
    most, gap = strict.since(started)
    wanted = {f"{tag}#{n}" for n in range(1, expected + 1)}
    return {
        "elapsed": elapsed,
        "floor": floor,
        "r429": emu.stats["responses_429"] - before_429,
        "lost": len(wanted - set(copies)),
        "duplicated": sum(n - 1 for n in copies.values()),
        "most": most,
        "gap": gap,
    }


async def main_async(args: argparse.Namespace) -> int:
    from bot.sandbox import BotApiEmulator
    from shared.db import asyncpg_dsn, resolve_database_url
    from shared.settings import Settings

    server_url = await resolve_database_url(Settings())
    url = await prepare(server_url)
    dsn = asyncpg_dsn(url)
    emu = BotApiEmulator(token=TOKEN, flood_limits=True, sandbox_ui=False)
    await emu.start()
    strict = StrictCounter(emu)
    chats = list(range(FIRST_CHAT, FIRST_CHAT + args.chats))
    for chat in [*chats, SINGLE_CHAT, WARMUP_CHAT]:
        emu.user(chat, "U")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emu.base_url,
        "CLAIMDESK_DB_POOL_SIZE": "10",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claimdesk", "worker", "--no-sweep", cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        # Warm-up: the worker is up and listening once it delivers this one.
        await enqueue(dsn, [WARMUP_CHAT], "warmup")
        await emu.world.wait_for(lambda: len(emu.sent(WARMUP_CHAT)) >= 1, timeout=180)
        await asyncio.sleep(1.5)
        emu.flood.reset()
        spread = await phase(emu, strict, dsn, chats, "spread", args.chats / TOTAL_RATE)
        await asyncio.sleep(1.5)
        single = await phase(emu, strict, dsn, [SINGLE_CHAT] * args.single, "single", args.single * CHAT_INTERVAL)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.wait(), 20)
        except TimeoutError:
            worker.kill()
        await emu.stop()
        from sqlalchemy.engine import make_url

        admin = asyncpg_dsn(make_url(server_url).set(database="postgres").render_as_string(hide_password=False))
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        finally:
            await conn.close()

    print(f"emulator: flood limits on ({TOTAL_RATE:.0f} msg/s in total, 1 msg/s per chat)")
    ok = True
    for name, what, r in (
        ("spread", f"{args.chats} messages to {args.chats} chats", spread),
        ("single", f"{args.single} messages to one chat", single),
    ):
        ratio = r["elapsed"] / r["floor"]
        within = abs(ratio - 1) <= 0.10
        strict_ok = r["most"] <= TOTAL_RATE and r["gap"] >= CHAT_INTERVAL
        ok = ok and within and strict_ok and r["r429"] == 0 and r["lost"] == 0 and r["duplicated"] == 0
        print(
            f"{name:7s} {what:32s} elapsed {r['elapsed']:7.2f} s  floor {r['floor']:6.2f} s  "
            f"ratio {ratio:5.3f} ({'within' if within else 'OUTSIDE'} 10%)  "
            f"429s {int(r['r429'])}  lost {int(r['lost'])}  duplicated {int(r['duplicated'])}  "
            f"strict: most in a sliding second {int(r['most'])}, shortest gap in a chat "
            + (f"{r['gap']:.3f} s" if r["gap"] != float("inf") else "n/a (one message a chat)")
        )
    print(f"total 429s answered by the emulator: {emu.stats['responses_429']}")
    print("targets met" if ok else "targets NOT met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--single", type=int, default=100)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
