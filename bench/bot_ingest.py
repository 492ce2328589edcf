"""How fast the bot stores what customers send (issues 3 and 12).

5,000 inbound texts from 500 customers who each have one open claim go through the local Bot API
emulator to a bot, in long-polling and in webhook mode. Two bots in the same run, each in a
subprocess of its own (so the peak RSS measured is the bot's alone; the emulator and this driver
live in the parent):

- the floor, the textbook aiogram bot: aiogram's default `Dispatcher`, a session middleware
  (`async with sessionmaker() as session`), a handler that inserts the message row (the
  interaction table) and commits; no lock, no dedupe, no audit, no reply. Same pool and the same
  100 updates at once as claimdesk (polling: `start_polling(tasks_concurrency_limit=100)`;
  webhook: aiogram's `SimpleRequestHandler` answering after the handler, `max_connections=100`).
  With aiogram's unbounded defaults (every fetched update a task at once; the webhook answered
  before handling) the textbook bot takes thousands of updates at once here, they wait for the
  pool's 10 + 10 connections past its 30 s timeout, and messages are lost.
- claimdesk: `bot.app.create_dispatcher` / `run_dispatcher` as `claimdesk bot` runs them (chat
  lock, dedupe, customer, FSM, routing, audit event, throttled acknowledgement, 200 only after
  the commit).

Printed per mode: messages stored per second for both and their ratio, each bot process's peak
RSS and its CPU time per message (user + system, from /proc: the figure that depends least on
how busy the machine is), the PostgreSQL backends' CPU per message, and the load average.

    .venv/bin/python bench/bot_ingest.py [--customers 500] [--per-customer 10] [--modes polling,webhook]

BOT_INGEST_PROFILE=<folder> writes a cProfile (CPU clock) of the claimdesk bot child there, or a
pyinstrument report with BOT_INGEST_PROFILER=pyinstrument (install it first); the figures of a
profiled run are not comparable.

Database: DATABASE_URL's server (or TEST_DATABASE_URL's, or the embedded one); a scratch
database is created there and dropped at the end. Targets (issue 12): claimdesk at least 0.6 of
the textbook bot and at least 150 stored messages/s in webhook mode; each bot process's peak RSS
at most 200 MB. Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "777000:BENCH"
UPDATES_AT_ONCE = 100  # as bot.app.UPDATES_AT_ONCE (not imported: the floor does not load the desk's bot)
FIRST_USER = 900_000


# -- the bot processes -----------------------------------------------------------------------------
async def textbook_bot(mode: str, api_base: str, db_url: str, stop: asyncio.Event) -> None:
    """The floor: the aiogram bot of the guides, storing each message in the same table."""
    from aiogram import BaseMiddleware, Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message, TelegramObject
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    import shared.models  # noqa: F401  (every mapped class, as an app's models module)
    from shared.db import create_engine
    from shared.interactions.models import Interaction
    from shared.settings import get_settings

    engine = create_engine(db_url, pool_size=get_settings().db_pool_size)  # the desk's pool, for a fair floor
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    class DbSessionMiddleware(BaseMiddleware):
        async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
            async with sessionmaker() as session:
                data["session"] = session
                return await handler(event, data)

    dp = Dispatcher()
    dp.update.middleware(DbSessionMiddleware())

    @dp.message()
    async def store(message: Message, session: AsyncSession) -> None:
        session.add(
            Interaction(
                direction="inbound",
                channel="telegram",
                text=message.text or "",
                occurred_at=message.date,
                tg_chat_id=message.chat.id,
                tg_message_id=message.message_id,
                tg_edit_date=0,
            )
        )
        await session.commit()

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    try:
        if mode == "webhook":
            app = web.Application()
            SimpleRequestHandler(dispatcher=dp, bot=bot, handle_in_background=False).register(app, path="/webhook")
            setup_application(app, dp, bot=bot)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook", max_connections=UPDATES_AT_ONCE)
            await stop.wait()
            await runner.cleanup()
        else:
            await bot.delete_webhook()
            polling = asyncio.create_task(
                dp.start_polling(bot, handle_signals=False, polling_timeout=1, tasks_concurrency_limit=UPDATES_AT_ONCE)
            )
            await stop.wait()
            await dp.stop_polling()
            await polling
    finally:
        await bot.session.close()
        await engine.dispose()


async def claimdesk_bot(mode: str, api_base: str, db_url: str, stop: asyncio.Event) -> None:
    from sqlalchemy import event

    from bot.app import create_bot, create_dispatcher, run_dispatcher
    from shared.db import create_engine, create_session_factory
    from shared.settings import get_settings

    settings = get_settings()
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # as `claimdesk bot` runs it
    bot = create_bot(settings, token=TOKEN, api_base=api_base)
    engine = create_engine(db_url, pool_size=settings.db_pool_size)
    connects = 0

    def count_connect(*_: object) -> None:
        nonlocal connects
        connects += 1

    # A new connection costs both sides far more than a statement: churn shows here.
    event.listen(engine.sync_engine, "connect", count_connect)
    dp = create_dispatcher(create_session_factory(engine), settings, webhook=mode == "webhook")
    try:
        await run_dispatcher(dp, bot, settings, stop, webhook=mode == "webhook", polling_timeout=1, webhook_port=0)
    finally:
        await bot.session.close()
        await engine.dispose()
        print(f"    ({mode}, claimdesk: database connections opened {connects})", file=sys.stderr, flush=True)


async def child(kind: str, mode: str, api_base: str, db_url: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)  # the parent closes our stdin
    run = claimdesk_bot if kind == "claimdesk" else textbook_bot
    await run(mode, api_base, db_url, stop)


# -- the driver ------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used so far (/proc/<pid>/stat, clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the kernel's record of the process's peak resident set."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def seed(db_url: str, customers: int) -> None:
    from sqlalchemy import insert

    from shared.actors import Actor
    from shared.claims.service import NewClaim, register_claim
    from shared.customers.models import Customer
    from shared.db import create_engine, create_session_factory

    engine = create_engine(db_url)
    sessions = create_session_factory(engine)
    async with sessions.begin() as session:
        ids = (
            await session.scalars(
                insert(Customer).returning(Customer.id),
                [
                    {
                        "name": f"Customer {i}",
                        "telegram_user_id": FIRST_USER + i,
                        "telegram_chat_id": FIRST_USER + i,
                        "language": "ru" if i % 2 else "en",
                    }
                    for i in range(customers)
                ],
            )
        ).all()
        for customer_id in ids:
            await register_claim(
                session,
                claim_in=NewClaim(customer_id=customer_id, description="Посылка пришла мятой"),
                actor=Actor.customer(customer_id),
            )
    await engine.dispose()


async def reset(db_url: str) -> None:
    import asyncpg

    from shared.db import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        await conn.execute(
            "TRUNCATE attachment, interaction, bot_processed_update, bot_fsm_record RESTART IDENTITY CASCADE;"
            "DELETE FROM claim_event WHERE kind = 'interaction_added'"
        )
    finally:
        await conn.close()


async def backend_cpu(conn: object) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving the bot (the other sessions
    on the bench database; the driver's own is left out). Backends that ended are not counted:
    read it while the bot runs."""
    pids = await conn.fetch(  # type: ignore[attr-defined]
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'"  # not autovacuum working on the same tables
    )
    total = 0.0
    for row in pids:
        try:
            total += cpu_seconds(row["pid"])
        except OSError:  # ended meanwhile, or on another machine
            pass
    return total


async def stored(conn: object) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM interaction"))  # type: ignore[attr-defined]


async def one_run(kind: str, mode: str, db_url: str, customers: int, per_customer: int) -> dict[str, float]:
    import asyncpg

    from bot.sandbox import BotApiEmulator
    from shared.db import asyncpg_dsn

    await reset(db_url)
    emu = BotApiEmulator(token=TOKEN, sandbox_ui=False)
    await emu.start()
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", kind, mode, emu.base_url, db_url,
        stdin=subprocess.PIPE, env=env, cwd=str(ROOT),
    )  # fmt: skip
    conn = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        if mode == "webhook":
            await emu.world.wait_for(lambda: emu.world.webhook is not None, 60)
        else:
            await emu.world.wait_for(lambda: emu.method_counts["getUpdates"] > 0, 60)
        users = [emu.user(FIRST_USER + i, f"U{i}", language_code="ru") for i in range(customers)]
        total = customers * per_customer
        cpu_before = cpu_seconds(proc.pid)  # type: ignore[arg-type]
        pg_before = await backend_cpu(conn)
        emulator_cpu_before = time.process_time()
        started = time.perf_counter()
        for round_ in range(per_customer):
            for user in users:
                await user.send_text(f"Сообщение {round_} от {user.id}: когда вернут деньги?")
        # The rows are written by another process: polling the count is the only signal. A bot
        # that stops storing (lost messages, a crash) ends the wait after a minute without progress.
        count, last_change = 0, time.perf_counter()
        while count < total and proc.returncode is None and time.perf_counter() - last_change < 60:
            await asyncio.sleep(0.02)
            if (now := await stored(conn)) != count:
                count, last_change = now, time.perf_counter()
        elapsed = time.perf_counter() - started
        count = max(1, await stored(conn))
        if count < total:
            print(f"    ({mode}, {kind}: only {count} of {total} messages stored)", flush=True)
        cpu = cpu_seconds(proc.pid) - cpu_before  # type: ignore[arg-type]
        pg_cpu = await backend_cpu(conn) - pg_before
        emulator_cpu = time.process_time() - emulator_cpu_before
        # The emulator and this driver share a process: if it is the bottleneck, this shows it.
        print(
            f"    ({mode}, {kind}: {count} stored; emulator + driver CPU {emulator_cpu * 1000 / count:.2f} ms/msg, "
            f"PostgreSQL backends CPU {pg_cpu * 1000 / count:.2f} ms/msg, replies {emu.method_counts['sendMessage']})",
            flush=True,
        )
        return {
            "rate": count / elapsed,
            "rss": peak_rss_mb(proc.pid),  # type: ignore[arg-type]
            "cpu": cpu * 1000 / count,
        }
    finally:
        await conn.close()
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            # A profiled child writes its profile on the way out: give it time.
            await asyncio.wait_for(proc.wait(), 300 if os.environ.get("BOT_INGEST_PROFILE") else 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await emu.stop()


async def main(customers: int, per_customer: int, modes: tuple[str, ...] = ("polling", "webhook")) -> None:
    import asyncpg

    from shared import migrate
    from shared.db import asyncpg_dsn, ensure_database, libpq_to_asyncpg, start_embedded_postgres

    server = os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    server = (
        libpq_to_asyncpg(server, "postgres")
        if server
        else libpq_to_asyncpg(start_embedded_postgres(ROOT / "var" / "bench"), "postgres")
    )
    name = f"claimdesk_bench_{uuid.uuid4().hex[:8]}"
    db_url = libpq_to_asyncpg(server, name)
    await ensure_database(db_url)
    try:
        await migrate.upgrade(db_url)
        await seed(db_url, customers)
        total = customers * per_customer
        print(f"bot_ingest: {total} texts from {customers} customers with open claims, modes {modes}", flush=True)
        for mode in modes:
            load = os.getloadavg()
            floor = await one_run("textbook", mode, db_url, customers, per_customer)
            desk = await one_run("claimdesk", mode, db_url, customers, per_customer)
            print(
                f"  {mode:8s} claimdesk {desk['rate']:6.0f} msg/s | textbook aiogram bot {floor['rate']:6.0f} msg/s | "
                f"ratio {desk['rate'] / floor['rate']:4.2f} | peak RSS claimdesk {desk['rss']:5.1f} MB, "
                f"textbook {floor['rss']:5.1f} MB | bot CPU claimdesk {desk['cpu']:5.2f} ms/msg, "
                f"textbook {floor['cpu']:5.2f} | load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
                flush=True,
            )
        print("  targets: ratio >= 0.6 and >= 150 msg/s in webhook mode; each bot's peak RSS <= 200 MB")
    finally:
        conn = await asyncpg.connect(asyncpg_dsn(server))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def profiled_child(kind: str, mode: str, api_base: str, db_url: str) -> None:
    """The child under cProfile when BOT_INGEST_PROFILE names a folder (claimdesk runs only):
    `<folder>/<mode>.prof`, for `python -m pstats` or snakeviz. Profiling slows the bot down, so
    the figures of a profiled run are not comparable with the others."""
    folder = os.environ.get("BOT_INGEST_PROFILE")
    if not folder or kind != "claimdesk":
        asyncio.run(child(kind, mode, api_base, db_url))
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    import bot.app  # noqa: F401  (imported before profiling: the import is not what is measured)

    if os.environ.get("BOT_INGEST_PROFILER") == "pyinstrument":
        from pyinstrument import Profiler  # a sampling profiler: not a dependency, install it to use it
        from pyinstrument.stack_sampler import get_stack_sampler

        # Sample on the thread's CPU clock: wall time would charge the moments the process waits
        # for a core (a busy machine) to whatever it was doing then.
        get_stack_sampler().timer_func = time.thread_time
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        try:
            asyncio.run(child(kind, mode, api_base, db_url))
        finally:
            profiler.stop()
            (Path(folder) / f"{mode}.txt").write_text(profiler.output_text(show_all=False, short_mode=False))
            (Path(folder) / f"{mode}.html").write_text(profiler.output_html())
        return
    import cProfile

    # CPU time, not wall time: on a busy machine wall time charges a descheduled process to
    # whatever call it was in (socket sends, mostly).
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        asyncio.run(child(kind, mode, api_base, db_url))
    finally:
        profile.disable()
        profile.dump_stats(str(Path(folder) / f"{mode}.prof"))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        profiled_child(*sys.argv[2:6])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--customers", type=int, default=500)
        parser.add_argument("--per-customer", type=int, default=10)
        parser.add_argument("--modes", default="polling,webhook", help="comma-separated: polling, webhook")
        args = parser.parse_args()
        asyncio.run(main(args.customers, args.per_customer, tuple(args.modes.split(","))))
