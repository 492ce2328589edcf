"""shared.db: how every connection is opened (one configuration)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.customers.models import Customer
from shared.db import (
    DatabaseConfig,
    connect,
    create_engine,
)
from shared.runtime import open_database
from shared.settings import Settings


def with_query(url: str, **query: str) -> str:
    return make_url(url).update_query_dict(query).render_as_string(hide_password=False)


async def test_the_engine_and_other_connections_share_the_settings(database_url: str) -> None:
    settings = Settings(
        # libpq's connect_timeout is the client's (not a server setting as asyncpg would send it).
        DATABASE_URL=with_query(database_url, application_name="claimdesk-config-test", connect_timeout="5"),
        CLAIMDESK_DB_POOL_SIZE="3",
        CLAIMDESK_DB_COMMAND_TIMEOUT="0.5",
        CLAIMDESK_DB_CONNECT_TIMEOUT="7",
    )
    async with open_database(settings) as db:
        assert db.engine.pool.size() == 3 and db.config.pool_size == 3
        assert (db.config.connect_timeout, db.config.command_timeout) == (7.0, 0.5)
        raw = await connect(db.config)
        try:
            async with db.engine.connect() as conn:
                seen = await conn.execute(text("SELECT current_setting('jit'), current_setting('application_name')"))
                assert tuple(seen.one()) == ("off", "claimdesk-config-test")
                with pytest.raises(TimeoutError):  # the statement limit: asyncpg cancels it
                    await conn.execute(text("SELECT pg_sleep(5)"))
            assert tuple(await raw.fetchrow("SELECT current_setting('jit'), current_setting('application_name')")) == (
                "off",
                "claimdesk-config-test",
            )
            with pytest.raises(TimeoutError):
                await raw.fetchval("SELECT pg_sleep(5)")
        finally:
            await raw.close()
    # No statement limit: 0 (migrations run so).
    unlimited = Settings(DATABASE_URL=database_url, CLAIMDESK_DB_COMMAND_TIMEOUT="0")
    assert DatabaseConfig.from_settings(unlimited, database_url).command_timeout is None


@pytest.mark.parametrize("spelling", ["sslmode", "ssl"])
async def test_the_urls_ssl_mode_reaches_every_connection(database_url: str, spelling: str) -> None:
    """libpq's `sslmode=...` and SQLAlchemy's `ssl=...` in DATABASE_URL: the engine's connections and
    the others (`connect`) use the mode asked for, or fail saying why; none ignores it."""
    probe = await connect(DatabaseConfig(database_url))
    try:
        # SSL is never used on a Unix socket (the embedded server's), whatever the mode says.
        tcp = await probe.fetchval("SELECT inet_client_addr() IS NOT NULL")
        server_has_ssl = await probe.fetchval("SHOW ssl") == "on"
    finally:
        await probe.close()
    using_ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    for mode in ("disable", "require"):
        config = DatabaseConfig(with_query(database_url, **{spelling: mode}))
        engine = create_engine(config)
        expected = mode == "require" and tcp
        try:
            if expected and not server_has_ssl:
                # A server without SSL (the test machine's): asked for it, every connection refuses.
                with pytest.raises(ConnectionError, match="SSL"):
                    await connect(config)
                with pytest.raises(ConnectionError, match="SSL"):
                    async with engine.connect():
                        pass
                continue
            raw = await connect(config)
            try:
                assert await raw.fetchval(using_ssl) is expected
            finally:
                await raw.close()
            async with engine.connect() as conn:
                assert (await conn.execute(text(using_ssl))).scalar() is expected
        finally:
            await engine.dispose()


async def _names(db: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db() as session:
        return list((await session.scalars(select(Customer.name).order_by(Customer.name))).all())
