"""Delivery under Telegram's limits: the outbox worker against the emulator enforcing them.

    .venv/bin/python bench/delivery.py [--chats 1000] [--single 100] [--only plain|topics]
                                       [--claims 30] [--texts 150] [--answers 60]

Phase 1 queues one message to each of `--chats` chats (floor: chats / 30 s); phase 2 queues
`--single` messages to one chat (floor: single x 1 s). Phase 3 (issue 14) is the staff group:
`--claims` claims with a topic each in a forum supergroup (STAFF_CHAT_ID), their customers sending
`--texts` texts in one minute (stored by the bot's service, copied into the topics) while a staff
member answers `--answers` of them from the topics; the group's lane is Telegram's 20 messages a
minute, and texts piled up per claim go as one post: its floor is the time the last texts of the
claims arrived plus 3 s for each claim still waiting for its post. It checks that every customer got
every answer (within the per-chat limits: no 429), that every text reached its topic once and in
order, and prints how long the group's queue took to drain.

The worker runs as a child process (`claimdesk worker`), as in production; the emulator runs here
with flood limits on and counts every 429 it answers. Beside the emulator's own limits (a leaky
bucket, as Telegram documents them), an independent strict counter takes every sendMessage's
arrival time in phases 1 and 2: the most in any sliding second (Telegram allows 30) and the
shortest gap between two sends to one chat (1 s): what a stricter Telegram would have refused.
Prints elapsed time against each floor, 429s, the strict counts, lost and duplicated messages.
Targets: within 10% of each floor, zero 429s, at most 30 in any sliding second, no chat twice
within a second, zero lost, zero duplicated.

The database is a fresh `claimdesk_bench_delivery` on DATABASE_URL's server (or the embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
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


STAFF_CHAT = -1001400000000
STAFF_TELEGRAM_ID = 77_000
CLAIM_CHAT = 600_000
GROUP_INTERVAL = 3.0  # Telegram: about 20 messages a minute into one group


async def topics_phase(emu, url: str, args: argparse.Namespace) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Runs in this process what the bot would: the services that store a customer's message and a
    staff member's topic message (the worker, a child process, does every Telegram call)."""
    from sqlalchemy import select, text

    from shared.actors import Actor
    from shared.claims.service import NewClaim, register_claim
    from shared.customers.models import Customer
    from shared.db import create_engine, create_session_factory
    from shared.enums import Role
    from shared.interactions.routing import receive_inbound
    from shared.interactions.service import TelegramRef
    from shared.staff.models import StaffUser
    from shared.topics.models import ClaimTopic
    from shared.topics.service import staff_message

    engine = create_engine(url, pool_size=4)
    sessions = create_session_factory(engine)
    group = emu.supergroup(STAFF_CHAT, "Claims desk")
    member = group.member(STAFF_TELEGRAM_ID, "Staff")
    users = [emu.user(CLAIM_CHAT + k, f"C{k}") for k in range(args.claims)]
    claim_ids: list[int] = []
    async with sessions.begin() as session:
        session.add(
            StaffUser(
                login="bench",
                full_name="Bench",
                password_hash="x",
                role=Role.OPERATOR,
                telegram_user_id=STAFF_TELEGRAM_ID,
            )
        )
        for k, user in enumerate(users):
            customer = Customer(name=f"C{k}", telegram_user_id=user.id, telegram_chat_id=user.id, language="en")
            session.add(customer)
            await session.flush()
            claim = await register_claim(
                session,
                claim_in=NewClaim(customer_id=customer.id, description=f"claim {k}"),
                actor=Actor.customer(customer.id),
            )
            claim_ids.append(claim.id)
    # Set-up (not measured): each claim's topic and its card, at the group's pace.
    try:
        await emu.world.wait_for(lambda: len(group.sent()) >= args.claims, timeout=args.claims * 8 + 60)
    except TimeoutError:
        async with sessions() as session:
            rows = await session.execute(
                text("SELECT status, method, last_error, count(*) FROM outbox_message GROUP BY 1, 2, 3")
            )
            print("set-up did not finish; the outbox:", rows.all(), "posts:", len(group.sent()))
        raise
    async with sessions() as session:
        rows = await session.execute(select(ClaimTopic.claim_id, ClaimTopic.thread_id))
        thread_of = dict(rows.all())
    threads = [thread_of[c] for c in claim_ids]
    posts_before = len(group.sent())

    expected: dict[int, list[str]] = {k: [] for k in range(args.claims)}
    answers: dict[int, list[str]] = {k: [] for k in range(args.claims)}
    answered_at: dict[str, float] = {}
    last_text_at: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    span = 60.0
    events: list[tuple[float, str, int, int]] = [
        (i * span / args.texts, "text", i % args.claims, i) for i in range(args.texts)
    ] + [(j * span / args.answers + 0.2, "answer", (j * 7) % args.claims, j) for j in range(args.answers)]
    events.sort()
    latency: dict[str, float] = {}

    async def watch_customers() -> None:
        """How long each answer took to reach its customer, seen every 50 ms while it runs."""
        while True:
            now = loop.time()
            for k in answers:
                for m in emu.sent(users[k].id):
                    if m.text in answered_at and m.text not in latency:
                        latency[m.text] = now - answered_at[m.text]
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch_customers())
    for at, kind, k, n in events:
        delay = started + at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if kind == "text":
            text = f"c{k}-t{n}"
            sent = await users[k].send_text(text)
            async with sessions.begin() as session:
                customer_id = await session.scalar(select(Customer.id).where(Customer.telegram_chat_id == users[k].id))
                assert customer_id is not None
                await receive_inbound(
                    session,
                    customer_id=customer_id,
                    chosen_claim_id=None,
                    text=text,
                    telegram=TelegramRef(chat_id=users[k].id, message_id=sent["message_id"]),
                )
            expected[k].append(text)
            last_text_at[k] = loop.time() - started
        else:
            text = f"answer {n} to c{k}"
            posted = await member.in_topic(threads[k]).send_text(text)
            async with sessions.begin() as session:
                await staff_message(
                    session,
                    chat_id=STAFF_CHAT,
                    thread_id=threads[k],
                    telegram_user_id=STAFF_TELEGRAM_ID,
                    text=text,
                    telegram=TelegramRef(chat_id=STAFF_CHAT, message_id=posted["message_id"]),
                )
            answers[k].append(text)
            answered_at[text] = loop.time()
    sent_all = loop.time()

    def topic_texts(k: int) -> list[str]:
        out: list[str] = []
        for m in group.sent(threads[k]):
            body = m.content or ""
            if body.startswith("c"):
                out.extend(body.split("\n\n"))
        return out

    def drained() -> bool:
        return all(len(topic_texts(k)) >= len(expected[k]) for k in expected)

    def customers_served() -> bool:
        return all(
            sum(1 for m in emu.sent(users[k].id) if (m.text or "") in answers[k]) >= len(answers[k]) for k in answers
        )

    with contextlib.suppress(TimeoutError):
        await emu.world.wait_for(customers_served, timeout=120)
    watcher.cancel()
    with contextlib.suppress(TimeoutError):
        await emu.world.wait_for(drained, timeout=args.texts * GROUP_INTERVAL + 60)
    drain = loop.time() - started
    await asyncio.sleep(3.0)  # anything sent twice would arrive now
    posts = len(group.sent()) - posts_before
    in_order = all(topic_texts(k) == expected[k] for k in expected)
    got_answers = sum(
        min(len(answers[k]), sum(1 for m in emu.sent(users[k].id) if (m.text or "") in answers[k])) for k in answers
    )
    duplicated_answers = sum(
        sum(1 for m in emu.sent(users[k].id) if (m.text or "") in answers[k]) - len(answers[k]) for k in answers
    )
    await engine.dispose()
    # The floor the group's limit sets, however well texts are combined: every claim's last text
    # needs a post after it arrived, and the group takes one post per GROUP_INTERVAL.
    lasts = sorted(last_text_at.values())
    floor = max((at + (len(lasts) - 1 - i) * GROUP_INTERVAL for i, at in enumerate(lasts)), default=0.0)
    return {
        "drain": drain,
        "sent_span": sent_all - started,
        "posts": posts,
        "floor": floor,
        "floor_posts": posts * GROUP_INTERVAL,
        "floor_uncombined": args.texts * GROUP_INTERVAL,
        "in_order": float(in_order),
        "answers": got_answers,
        "duplicated_answers": duplicated_answers,
        "latency_max": max(latency.values(), default=float("nan")),
        "latency_median": sorted(latency.values())[len(latency) // 2] if latency else float("nan"),
    }


async def main_async(args: argparse.Namespace) -> int:
    from bot.sandbox import BotApiEmulator
    from shared.db import asyncpg_dsn, resolve_database_url
    from shared.settings import Settings, get_settings

    if args.only in (None, "topics"):
        os.environ["STAFF_CHAT_ID"] = str(STAFF_CHAT)  # the worker (a child) and the services here
        get_settings.cache_clear()
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
        spread = single = topics = None
        if args.only in (None, "plain"):
            spread = await phase(emu, strict, dsn, chats, "spread", args.chats / TOTAL_RATE)
            await asyncio.sleep(1.5)
            single = await phase(emu, strict, dsn, [SINGLE_CHAT] * args.single, "single", args.single * CHAT_INTERVAL)
        if args.only in (None, "topics"):
            before_429 = emu.stats["responses_429"]
            topics = await topics_phase(emu, url, args)
            topics["r429"] = emu.stats["responses_429"] - before_429
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

    print(f"emulator: flood limits on ({TOTAL_RATE:.0f} msg/s in total, 1 msg/s per chat, 20 a minute per group)")
    ok = True
    plain = (
        []
        if spread is None or single is None
        else [
            ("spread", f"{args.chats} messages to {args.chats} chats", spread),
            ("single", f"{args.single} messages to one chat", single),
        ]
    )
    for name, what, r in plain:
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
    if topics is not None:
        t = topics
        served = int(t["answers"]) == args.answers and int(t["duplicated_answers"]) == 0
        ok = ok and served and bool(t["in_order"]) and t["r429"] == 0
        print(
            f"topics  {args.claims} claims, {args.texts} customer texts in {t['sent_span']:.1f} s, "
            f"{args.answers} staff answers from the topics"
        )
        print(
            f"        staff group drained {t['drain']:7.2f} s after the first text, in {int(t['posts'])} posts  "
            f"floor {t['floor']:6.2f} s (each claim's last text posted after it came, one post per "
            f"{GROUP_INTERVAL:.0f} s)  ratio {t['drain'] / t['floor'] if t['floor'] else float('nan'):5.3f}"
        )
        print(
            f"        the posts it made need {t['floor_posts']:.0f} s at the group's limit; "
            f"one post per text would need {t['floor_uncombined']:.0f} s"
        )
        print(
            f"        every text in its topic once and in order: {'yes' if t['in_order'] else 'NO'}  "
            f"answers delivered {int(t['answers'])}/{args.answers} (duplicated {int(t['duplicated_answers'])}), "
            f"latency median {t['latency_median']:.2f} s max {t['latency_max']:.2f} s  429s {int(t['r429'])}"
        )
    print(f"total 429s answered by the emulator: {emu.stats['responses_429']}")
    print("targets met" if ok else "targets NOT met")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--single", type=int, default=100)
    parser.add_argument("--only", choices=("plain", "topics"), default=None, help="run only these phases")
    parser.add_argument("--claims", type=int, default=30)
    parser.add_argument("--texts", type=int, default=150)
    parser.add_argument("--answers", type=int, default=60)
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
