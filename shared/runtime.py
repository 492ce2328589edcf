"""Opening the database for a process: resolve the URL (embedded server when unset), check that it
answers, and hand out the engine and the session factory."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, create_session_factory, resolve_database_url
from shared.settings import Settings


class StartupError(Exception):
    """A problem the person starting the program must fix; shown as one line, exit code 2."""


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


def _where(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database}"


async def check_connection(engine: AsyncEngine, url: str) -> None:
    try:
        async with asyncio.timeout(10):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except (OSError, socket.gaierror, asyncpg.PostgresError, DBAPIError, InterfaceError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StartupError(f"DATABASE_URL: cannot connect to {_where(url)}: {reason}") from None
    except TimeoutError:
        raise StartupError(f"DATABASE_URL: no answer from {_where(url)} in 10 s") from None


@asynccontextmanager
async def open_database(settings: Settings, *, pool_size: int | None = None) -> AsyncIterator[Database]:
    try:
        url = await resolve_database_url(settings)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StartupError(f"CLAIMDESK_DATA_DIR: cannot start the embedded PostgreSQL: {exc}") from None
    engine = create_engine(url, pool_size=pool_size or settings.db_pool_size)
    try:
        await check_connection(engine, url)
        yield Database(url=url, engine=engine, sessions=create_session_factory(engine))
    finally:
        await engine.dispose()
