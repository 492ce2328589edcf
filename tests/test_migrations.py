"""Migrations from empty produce exactly the models; downgrade and upgrade round-trip; repeat is a no-op."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from shared import migrate
from shared.db import asyncpg_dsn, create_engine, ensure_database, libpq_to_asyncpg
from shared.models import Base


@pytest.fixture
async def empty_database(database_url: str):
    url = libpq_to_asyncpg(database_url, f"claimdesk_mig_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    yield url
    conn = await asyncpg.connect(asyncpg_dsn(libpq_to_asyncpg(database_url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def _diff(url: str) -> list:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return {r[0] for r in rows}
    finally:
        await engine.dispose()


async def _version(url: str) -> str | None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()


async def test_upgrade_matches_models_and_round_trips(empty_database: str) -> None:
    await migrate.upgrade(empty_database)
    assert await _diff(empty_database) == []
    assert {t.name for t in Base.metadata.sorted_tables} <= await _tables(empty_database)
    head = await _version(empty_database)

    await migrate.upgrade(empty_database)  # a second run is a no-op
    assert await _version(empty_database) == head

    await migrate.downgrade(empty_database, "base")
    assert await _tables(empty_database) <= {"alembic_version"}

    await migrate.upgrade(empty_database)
    assert await _diff(empty_database) == []
    assert await _version(empty_database) == head


def test_one_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("postgresql+asyncpg://unused/none"))
    assert len(script.get_heads()) == 1, script.get_heads()


async def test_0003_fills_the_hours_of_existing_claims(empty_database: str) -> None:
    await migrate.upgrade(empty_database, "0002")
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    try:
        await conn.execute("INSERT INTO customer (name, phone, language) VALUES ('C', '+79000000000', 'ru')")
        await conn.execute(
            """INSERT INTO claim (number, customer_id, channel, subject, description, currency, priority, status,
                                  result, registered_at, first_response_at, resolved_at, updated_at, version)
               VALUES ('M-1', 1, 'web', 's', 'd', 'RUB', 'normal', 'resolved', 'satisfied',
                       '2026-01-10 09:00+00', '2026-01-10 11:30+00', '2026-01-15 09:00:00.000001+00', now(), 1),
                      ('M-2', 1, 'web', 's', 'd', 'RUB', 'normal', 'new', NULL,
                       '2026-01-10 09:00+00', NULL, NULL, now(), 1)"""
        )
    finally:
        await conn.close()
    await migrate.upgrade(empty_database)
    conn = await asyncpg.connect(asyncpg_dsn(empty_database))
    try:
        rows = await conn.fetch(
            "SELECT number, first_response_hours, resolution_hours, "
            "resolution_hours = date_part('epoch', resolved_at - registered_at) / 3600 AS same "
            "FROM claim ORDER BY number"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [("M-1", 2.5, rows[0]["resolution_hours"], True), ("M-2", None, None, None)]
    assert 120.0 < rows[0]["resolution_hours"] < 120.000001


async def _functions(url: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND prokind = 'f'"
        )
    finally:
        await conn.close()
    return {r["proname"] for r in rows}


async def test_0007_drops_the_bot_functions_and_its_downgrade_brings_them_back(empty_database: str) -> None:
    bot_functions = {"bot_start_update", "store_inbound_text", "bot_store_plain_text"}
    await migrate.upgrade(empty_database, "0006")
    assert bot_functions <= await _functions(empty_database)
    await migrate.upgrade(empty_database, "0007")
    assert not bot_functions & await _functions(empty_database)
    await migrate.downgrade(empty_database, "0006")
    assert bot_functions <= await _functions(empty_database)
