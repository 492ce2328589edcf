"""One sending worker per bot: a second `claimdesk worker` stands by and takes over when the first
stops, so Telegram's per-bot limits hold however many workers run."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text

from bot.delivery import run_worker
from bot.sandbox import BotApiEmulator
from shared.runtime import Database
from shared.settings import get_settings
from tests.delivery.conftest import TOKEN, fast_config, wait_until
from tests.delivery.test_concurrency import _queue, _statuses


async def _advisory_locks(db) -> int:
    async with db() as session:
        # This test run's database only: other runs on the same server hold advisory locks too.
        return await session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )


async def test_a_second_worker_stands_by_then_takes_over(db, engine, database_url, emu: BotApiEmulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="claimdesk.delivery")
    for chat in range(70_000, 70_004):
        emu.user(chat, "U")
    database = Database(url=database_url, engine=engine, sessions=db)

    def start(stop: asyncio.Event) -> asyncio.Task:
        return asyncio.create_task(
            run_worker(
                get_settings(),
                database,
                stop,
                token=TOKEN,
                api_base=emu.base_url,
                sweep=False,
                config=fast_config(total_per_second=1000, chat_interval=0.001),
            )
        )

    first_stop, second_stop = asyncio.Event(), asyncio.Event()
    first = start(first_stop)
    await wait_until(lambda: _has(caplog, "sending for bot"), timeout=30)
    second = start(second_stop)
    await wait_until(lambda: _has(caplog, "standing by"), timeout=30)
    assert await _advisory_locks(db) == 1

    await _queue(db, chats=4, per_chat=5)
    await wait_until(lambda: _all_sent(db, 20), timeout=30)

    first_stop.set()
    await asyncio.wait_for(first, 15)
    await wait_until(lambda: _has(caplog, "sending for bot", times=2), timeout=30)  # the stand-by took over
    await _queue(db, chats=4, per_chat=5, first_chat=70_000)
    await wait_until(lambda: _all_sent(db, 40), timeout=30)
    second_stop.set()
    await asyncio.wait_for(second, 15)
    assert emu.stats["calls"]["sendMessage"] == 40


async def _has(caplog, words: str, times: int = 1) -> bool:
    return _count(caplog, words) >= times


def _count(caplog, words: str) -> int:
    return sum(words in record.getMessage() for record in caplog.records)


async def _all_sent(db, n: int) -> bool:
    return (await _statuses(db)).get("sent", 0) == n


async def test_the_workers_own_connections_come_from_the_desks_settings(db, database_url, emu: BotApiEmulator) -> None:
    """The sending lock's connection and the LISTEN connection are opened like the engine's: from
    DATABASE_URL with its query (an application_name; `ssl=disable`, SQLAlchemy's spelling that a
    bare asyncpg connection would send to the server as a setting and be refused)."""
    from sqlalchemy.engine import make_url

    from shared.runtime import open_database
    from shared.settings import Settings

    tag = "claimdesk-worker-config-test"
    url = (
        make_url(database_url)
        .update_query_dict({"application_name": tag, "ssl": "disable"})
        .render_as_string(hide_password=False)
    )
    settings = Settings(DATABASE_URL=url)
    stop = asyncio.Event()

    async def backends() -> dict[str, set[str]] | None:
        async with db() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT a.application_name, CASE WHEN a.query LIKE 'LISTEN%' THEN 'listen' ELSE 'lock' END"
                        " FROM pg_stat_activity a WHERE a.datname = current_database() AND (a.query LIKE 'LISTEN%'"
                        " OR a.pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted))"
                    )
                )
            ).all()
        found: dict[str, set[str]] = {}
        for name, role in rows:
            found.setdefault(role, set()).add(name)
        return found if set(found) == {"listen", "lock"} else None

    async with open_database(settings) as database:
        task = asyncio.create_task(
            run_worker(settings, database, stop, token=TOKEN, api_base=emu.base_url, sweep=False, config=fast_config())
        )
        try:
            found = await wait_until(backends, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
    assert found == {"listen": {tag}, "lock": {tag}}
