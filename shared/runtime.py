"""Opening the database for a process: resolve the URL (embedded server when unset), check that it
answers, and hand out the engine, the session factory and the configuration every other
connection of the process is opened with (`shared.db.connect(db.config)`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import DatabaseConfig, create_engine, create_session_factory, resolve_database_url
from shared.outage import OutageLog, wait_for_database
from shared.settings import Settings


class StartupError(Exception):
    """A problem the person starting the program must fix; shown as one line, exit code 2."""


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # For the connections outside the pool (LISTEN, the sending lock): `shared.db.connect(config)`.
    # Not given (an engine a test built itself): the URL with the default settings.
    config: DatabaseConfig = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = DatabaseConfig(self.url)


def _where(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database}"


async def _probe(engine: AsyncEngine, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


async def check_connection(engine: AsyncEngine, url: str, *, timeout: float = 10.0, wait: bool = False) -> None:
    """The database answers; otherwise a StartupError naming DATABASE_URL. With `wait`, an outage
    (refused, unreachable, the server starting or shutting down) is waited out: said once in the
    log, retried with a growing pause; what waiting cannot fix (a wrong password, no such
    database) is still that one line."""
    try:
        if wait:
            outages = OutageLog(f"DATABASE_URL {_where(url)}")
            await wait_for_database(lambda: _probe(engine, timeout), outages, doing="waiting for it")
        else:
            await _probe(engine, timeout)
    except (OSError, socket.gaierror, asyncpg.PostgresError, DBAPIError, InterfaceError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StartupError(f"DATABASE_URL: cannot connect to {_where(url)}: {reason}") from None
    except TimeoutError:
        raise StartupError(f"DATABASE_URL: no answer from {_where(url)} in {timeout:g} s") from None


@asynccontextmanager
async def open_database(
    settings: Settings, *, pool_size: int | None = None, wait: bool = False
) -> AsyncIterator[Database]:
    """The process's database; `wait` (the long-running parts: `claimdesk run`, `bot`, `worker`,
    `backoffice`) waits for a database that is away at start instead of ending with one line."""
    try:
        url = await resolve_database_url(settings)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StartupError(f"CLAIMDESK_DATA_DIR: cannot start the embedded PostgreSQL: {exc}") from None
    config = DatabaseConfig.from_settings(settings, url)
    if pool_size is not None:
        config = replace(config, pool_size=pool_size)
    engine = create_engine(config)
    try:
        await check_connection(engine, url, timeout=config.connect_timeout, wait=wait)
        yield Database(url=url, engine=engine, sessions=create_session_factory(engine), config=config)
    finally:
        await engine.dispose()
