"""`claimdesk backup FILE` / `claimdesk restore FILE` round trip on a database of its own: back up,
change, restore: the change is gone and everything else is back, row for row; a restore refuses
while the desk is connected (and changes nothing); no suitable pg_dump is one line, exit 2."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from shared import migrate
from shared.actors import Actor
from shared.catalogs.models import Department
from shared.claims.service import NewClaim, register_claim, transition
from shared.db import asyncpg_dsn, create_engine, create_session_factory, ensure_database, libpq_to_asyncpg
from shared.models import Base
from tests.factories import make_customer, make_staff
from tests.test_cli import claimdesk, clean_env


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[str]:
    url = libpq_to_asyncpg(database_url, f"claimdesk_backup_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    await migrate.upgrade(url)
    yield url
    conn = await asyncpg.connect(asyncpg_dsn(libpq_to_asyncpg(database_url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def _fill(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with create_session_factory(engine)() as session:
            staff = Actor.staff((await make_staff(session)).id)
            session.add(Department(name="Доставка"))
            customer = await make_customer(session, name="Ольга Ким")
            for day in (1, 2, 3):
                claim = await register_claim(
                    session,
                    claim_in=NewClaim(
                        customer_id=customer.id,
                        description=f"Претензия {day}: курьер опоздал",
                        registered_at=datetime(2026, 3, day, 9, tzinfo=UTC),
                    ),
                    actor=Actor.customer(customer.id),
                )
                await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
            await session.commit()
    finally:
        await engine.dispose()


async def _snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every table (and the schema's revision and the sequences), as text."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        out = {}
        for table in [*Base.metadata.sorted_tables, "alembic_version"]:
            name = getattr(table, "name", table)
            out[name] = [r[0] for r in await conn.fetch(f'SELECT t::text FROM "{name}" t ORDER BY 1')]
        out["sequences"] = [
            f"{r[0]}={r[1]}" for r in await conn.fetch("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
        ]
        return out
    finally:
        await conn.close()


async def test_backup_change_restore(own_database: str, tmp_path: Path) -> None:
    await _fill(own_database)
    before = await _snapshot(own_database)
    assert len(before["claim"]) == 3 and len(before["claim_event"]) == 6
    env = clean_env(DATABASE_URL=own_database, CLAIMDESK_DATA_DIR=str(tmp_path))
    backup = tmp_path / "desk.backup"

    made = claimdesk("backup", str(backup), env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert backup.stat().st_size > 0 and not (tmp_path / "desk.backup.part").exists()

    conn = await asyncpg.connect(asyncpg_dsn(own_database))
    try:
        await conn.execute("UPDATE customer SET name = 'Изменено'")
        await conn.execute("DELETE FROM department")
        await conn.execute("INSERT INTO reason (name) VALUES ('Новая причина')")
        changed = await _snapshot(own_database)
        # The desk still connected: the restore refuses and changes nothing.
        busy = claimdesk("restore", str(backup), env=env, cwd=tmp_path)
        assert busy.returncode == 1 and "other connection(s)" in busy.stderr and "stop the desk" in busy.stderr
        assert await _snapshot(own_database) == changed
    finally:
        await conn.close()

    restored = claimdesk("restore", str(backup), env=env, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "the database was replaced" in restored.stderr
    assert await _snapshot(own_database) == before

    broken = tmp_path / "not-a-backup"
    broken.write_bytes(b"hello")
    refused = claimdesk("restore", str(broken), env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "is not a claimdesk backup" in refused.stderr
    assert await _snapshot(own_database) == before


def test_no_suitable_pg_dump_is_one_line_and_exit_2(database_url: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=database_url, CLAIMDESK_PG_BINDIR=str(tmp_path))
    result = claimdesk("backup", str(tmp_path / "x.backup"), env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claimdesk: no pg_dump and pg_restore for PostgreSQL")
    assert "CLAIMDESK_PG_BINDIR" in lines[0] and not (tmp_path / "x.backup").exists()
