"""A database outage seen from outside (issue 13, fix 4): every request that needs the database is
a 503 problem with Retry-After, not a 500 with a traceback; the log says so once when the outage
starts and once when it ends; /readyz answers 503 meanwhile; the desk goes on by itself after."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backoffice.app import create_app
from backoffice.auth import LoginThrottle
from shared.db import create_engine, create_session_factory
from shared.runtime import Database
from tests.backoffice.conftest import PASSWORD, Api, make_settings
from tests.db_proxy import DatabaseProxy
from tests.factories import make_claim


@pytest.fixture
async def proxied(api: Api, database_url: str, tmp_path: Path) -> AsyncIterator[tuple[TestClient, DatabaseProxy]]:
    """The back-office over a database connection that the test can cut (the `api` fixture made the
    users and tokens); small pool, as a process of the desk has."""
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    engine = create_engine(proxy.url, pool_size=2)
    db = Database(url=proxy.url, engine=engine, sessions=create_session_factory(engine))
    app = create_app(make_settings(proxy.url, tmp_path), db, throttle=LoginThrottle())
    async with TestClient(TestServer(app)) as client:
        yield client, proxy
    await proxy.cut()
    await engine.dispose()


async def test_an_outage_is_a_503_logged_once(
    api: Api,
    db: async_sessionmaker[AsyncSession],
    proxied: tuple[TestClient, DatabaseProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, proxy = proxied
    async with db() as session:
        claim = await make_claim(session)
        await session.commit()
    admin = {"Authorization": f"Bearer {api.tokens['admin']}", "Accept-Language": "ru"}
    origin = {"Origin": str(client.make_url("/").origin())}
    # Up: pooled connections exist (the list runs on asyncpg's connection, the rest through the ORM).
    assert (await client.get("/api/v1/claims", headers=admin)).status == 200
    assert (await client.get(f"/api/v1/claims/{claim.id}", headers=admin)).status == 200

    caplog.clear()
    caplog.set_level(logging.INFO)
    await proxy.cut()
    requests = [
        ("GET", "/api/v1/claims", admin, None),  # a lost pooled connection, on asyncpg's own
        ("GET", f"/api/v1/claims/{claim.id}", admin, None),
        ("POST", "/api/v1/departments", admin, {"name": "Склад"}),
        ("GET", "/api/v1/claims", admin, None),
        ("POST", "/api/v1/auth/login", origin, {"login": "admin", "password": PASSWORD}),  # anonymous
        ("GET", "/api/v1/auth/me", {}, None),
    ] * 2
    for method, path, headers, body in requests:
        response = await client.request(method, path, headers=headers, json=body)
        problem = await response.json(content_type=None)
        assert response.status == 503, (method, path, problem)
        assert response.content_type == "application/problem+json" and problem["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    ready = await client.get("/readyz")
    assert ready.status == 503 and "Retry-After" in ready.headers
    noted = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in noted] == ["database unavailable"], [r.getMessage() for r in noted]
    assert all(r.exc_info is None for r in caplog.records), "no traceback for an outage"

    caplog.clear()
    await proxy.start()
    # Back: a connection the pool still held may fail once more; then everything answers again.
    statuses = [(await client.get("/api/v1/claims", headers=admin)).status for _ in range(3)]
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
    assert (await client.get(f"/api/v1/claims/{claim.id}", headers=admin)).status == 200
    assert (await client.get("/readyz")).status == 200
    back = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(back) == 1 and back[0].startswith("database is back after"), back
