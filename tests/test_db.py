"""shared.db.driver_transaction: the driver's transaction with the ORM session working inside it."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.customers.models import Customer
from shared.db import (
    DRIVER_CONNECTION,
    create_engine,
    create_session_factory,
    driver_connection,
    driver_transaction,
)
from tests.factories import make_customer


async def _names(db: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db() as session:
        return list((await session.scalars(select(Customer.name).order_by(Customer.name))).all())


async def test_commits_orm_and_driver_statements_together(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as session:
        await make_customer(session, name="Before")
    async with db() as session:
        async with driver_transaction(session) as raw:
            assert await driver_connection(session) is raw and session.info[DRIVER_CONNECTION] is raw
            assert raw.is_in_transaction()
            await raw.execute("INSERT INTO customer (name, language) VALUES ('Raw', 'ru')")
            session.add(Customer(name="Orm", language="en"))  # flushed at the end of the block
            loaded = await session.scalar(select(Customer).where(Customer.name == "Before"))
            assert loaded is not None
            loaded.name = "After"  # a change without an explicit flush is committed too
        assert DRIVER_CONNECTION not in session.info and not raw.is_in_transaction()
    assert await _names(db) == ["After", "Orm", "Raw"]


async def test_rolls_back_both_when_the_block_raises(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session:
        with pytest.raises(RuntimeError):
            async with driver_transaction(session) as raw:
                await raw.execute("INSERT INTO customer (name, language) VALUES ('Raw', 'ru')")
                session.add(Customer(name="Orm", language="en"))
                await session.flush()
                raise RuntimeError("handler failed")
    assert await _names(db) == []


async def test_a_broken_connection_is_not_handed_out_again(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            with pytest.raises((asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)):
                async with driver_transaction(session) as raw:
                    raw.terminate()  # the server or the network went away mid-update
                    await raw.fetchval("SELECT 1")
        async with sessions() as session:
            async with driver_transaction(session) as raw:
                assert await raw.fetchval("SELECT count(*) FROM customer") >= 0
            assert await session.scalar(select(func.count()).select_from(Customer)) is not None
    finally:
        await engine.dispose()
