"""Test fixtures: one real PostgreSQL per test run, a fresh database in it, migrated once.

With TEST_DATABASE_URL set the database is created on that server; otherwise an embedded
PostgreSQL is started under CLAIMDESK_TEST_DATA_DIR (default ./var/test), exactly as a new user's
`make run` would. Every test that asks for `db` starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import migrate
from shared.db import (
    asyncpg_dsn,
    create_engine,
    create_session_factory,
    ensure_database,
    libpq_to_asyncpg,
    start_embedded_postgres,
)
from shared.models import Base
from shared.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    """An asyncpg URL of the `postgres` database on the server the tests use."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return libpq_to_asyncpg(explicit, "postgres")
    data_dir = Path(os.environ.get("CLAIMDESK_TEST_DATA_DIR", ROOT / "var" / "test"))
    return libpq_to_asyncpg(start_embedded_postgres(data_dir), "postgres")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    server = _server_url()
    name = f"claimdesk_test_{uuid.uuid4().hex[:10]}"
    url = libpq_to_asyncpg(server, name)
    await ensure_database(url)
    os.environ["DATABASE_URL"] = url  # code under test that reads Settings finds the same database
    get_settings.cache_clear()
    await migrate.upgrade(url)
    yield url
    conn = await asyncpg.connect(asyncpg_dsn(server))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=20)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture
async def db(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """The session factory over empty tables (committed data from earlier tests is gone)."""
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            break
        except DBAPIError as exc:
            # A connection an earlier test's server left behind may still be finishing a
            # statement: TRUNCATE's table locks can then deadlock with it. Once it ends, retry.
            if "deadlock" not in str(exc.orig).lower() or attempt == 4:
                raise
            await asyncio.sleep(0.2)
    return sessions


@pytest.fixture
async def session(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with db() as session:
        yield session


# TEST_REDIS_URL: another database number lets two test runs share one Redis server.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """An empty Redis database for the tests of REDIS_URL set (as docker-compose runs the desk);
    skipped, saying why, on a machine without Redis (a new user's machine has none)."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # any failure: there is no Redis to test against
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    await client.flushdb()
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()
