"""How fast the bot stores what customers send (issue 3).

5,000 inbound texts from 500 customers who each have one open claim go through the local Bot API
emulator to the claimdesk bot, in long-polling and in webhook mode. Printed per mode: messages
stored per second, the same figure for an aiogram bot whose handler does nothing (same emulator,
same run: the floor), their ratio, the bot process's peak RSS and its CPU time per message (user +
system, from /proc: the figure that does not depend on how busy the machine is). The bot runs in a subprocess
so the RSS is its own (the emulator and this driver live in the parent).

    .venv/bin/python bench/bot_ingest.py [--customers 500] [--per-customer 10] [--modes polling,webhook]

Also printed: the emulator's and the PostgreSQL backends' CPU per message and the connections the
bot opened. BOT_INGEST_PROFILE=<folder> writes a cProfile (CPU clock) of the claimdesk bot child
there, or a pyinstrument report with BOT_INGEST_PROFILER=pyinstrument (install it first); the
figures of a profiled run are not comparable.

Database: DATABASE_URL's server (or TEST_DATABASE_URL's, or the embedded one); a scratch
database is created there and dropped at the end. Targets (2 cores): >= 500 msg/s in webhook
mode, ratio >= 0.5, RSS <= 150 MB. Nothing is asserted: the figures are printed.
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
FIRST_USER = 900_000


# -- the bot process -----------------------------------------------------------------------------
async def child(kind: str, mode: str, api_base: str, db_url: str) -> None:
    from bot import lean_import

    # First, as every entry point does through bot/__init__.py (both bots alike): aiogram's schemas
    # are built on first use, not all at import.
    lean_import.install()
    from aiogram import Dispatcher
    from aiogram.types import Message

    from bot.app import create_bot, create_dispatcher, run_dispatcher
    from shared.db import create_engine, create_session_factory
    from shared.settings import get_settings

    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    bot = create_bot(settings, token=TOKEN, api_base=api_base)
    engine = create_engine(db_url)
    from sqlalchemy import event

    connects = 0

    def count_connect(*_: object) -> None:
        nonlocal connects
        connects += 1

    # New connections cost both sides far more than a statement: churn shows here. Counted for
    # the engine's pool and for the asyncpg pool of the plain-text path (bot.plain_texts).
    event.listen(engine.sync_engine, "connect", count_connect)
    import asyncpg

    create_pool = asyncpg.create_pool

    def counting_pool(*args: Any, **kwargs: Any) -> Any:
        async def init(_: object) -> None:
            count_connect()

        return create_pool(*args, init=init, **kwargs)

    asyncpg.create_pool = counting_pool
    if kind == "claimdesk":
        dp = create_dispatcher(create_session_factory(engine), settings, webhook=mode == "webhook")
    else:
        dp = Dispatcher()

        @dp.message()
        async def nothing(message: Message) -> None:
            return None

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes our stdin to stop us
    try:
        if kind == "claimdesk" or mode == "webhook":
            # In webhook mode the floor runs behind the same request handler (for a dispatcher
            # without the plain-text path it is aiogram's parse and feed_update, answered after).
            await run_dispatcher(dp, bot, settings, stop, webhook=mode == "webhook", polling_timeout=1, webhook_port=0)
        else:
            # The floor polls as aiogram does (claimdesk has its own loop, bot/polling.py).
            await bot.delete_webhook()
            polling = asyncio.create_task(
                dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
            )
            await stop.wait()
            await dp.stop_polling()
            await polling
    finally:
        await bot.session.close()
        await engine.dispose()
        if kind == "claimdesk":
            print(f"    ({mode}, {kind}: database connections opened {connects})", file=sys.stderr, flush=True)


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


async def one_run(
    kind: str, mode: str, db_url: str, customers: int, per_customer: int
) -> tuple[float, float, int, float]:
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
        if kind == "claimdesk":
            # The rows are written by another process: polling the count is the only signal.
            while await stored(conn) < total:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        else:
            delivered = (
                (lambda: emu.stats["webhook_delivered"] >= total)
                if mode == "webhook"
                else (lambda: not emu.world.updates)
            )
            await emu.world.wait_for(delivered, 300)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid) - cpu_before  # type: ignore[arg-type]
        pg_cpu = await backend_cpu(conn) - pg_before
        emulator_cpu = time.process_time() - emulator_cpu_before
        rss = peak_rss_mb(proc.pid)  # type: ignore[arg-type]
        count = await stored(conn) if kind == "claimdesk" else total
        # The emulator and this driver share a process: if it is the bottleneck, this shows it.
        print(
            f"    ({mode}, {kind}: emulator + driver CPU {emulator_cpu * 1000 / count:.2f} ms/msg, "
            f"PostgreSQL backends CPU {pg_cpu * 1000 / count:.2f} ms/msg)",
            flush=True,
        )
        return count / elapsed, rss, emu.method_counts["sendMessage"], cpu * 1000 / count
    finally:
        await conn.close()
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            # A profiled child writes its profile on the way out: give it time.
            await asyncio.wait_for(proc.wait(), 300 if os.environ.get("BOT_INGEST_PROFILE") else 20)
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
            floor, floor_rss, _, floor_cpu = await one_run("noop", mode, db_url, customers, per_customer)
            rate, rss, replies, cpu = await one_run("claimdesk", mode, db_url, customers, per_customer)
            print(
                f"  {mode:8s} stored {rate:7.0f} msg/s | do-nothing aiogram {floor:7.0f} msg/s | "
                f"ratio {rate / floor:4.2f} | bot peak RSS {rss:5.1f} MB (do-nothing {floor_rss:5.1f} MB) | "
                f"bot CPU {cpu:5.2f} ms/msg (do-nothing {floor_cpu:5.2f}) | replies {replies}",
                flush=True,
            )
        print("  targets: webhook >= 500 msg/s, ratio >= 0.5, RSS <= 150 MB")
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
