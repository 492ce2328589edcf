"""Back-office API fixtures: the real app on a real TCP port (aiohttp TestServer) over the test
database, and signed-in users of each role (API tokens issued through the services)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backoffice.app import create_app
from backoffice.auth import LoginThrottle
from shared.enums import Role
from shared.runtime import Database
from shared.settings import Settings
from shared.staff.service import create_user, issue_token

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    user_ids: dict[str, int]
    sessions: async_sessionmaker[AsyncSession]

    @property
    def origin(self) -> str:
        """The back-office's own origin, as its pages' requests name it in `Origin`."""
        return str(self.client.make_url("/").origin())

    async def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = "admin",
        json: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> ClientResponse:
        all_headers = dict(headers or {})
        if as_ is not None:
            all_headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        elif "Origin" not in all_headers and "Sec-Fetch-Site" not in all_headers:
            # Without a token the client stands for a browser on the back-office's own pages.
            all_headers["Origin"] = self.origin
        kwargs: dict[str, Any] = {"headers": all_headers}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        return await self.client.request(method, path, **kwargs)

    async def json(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        body = await response.text()
        assert response.status == expect, f"{method} {path}: {response.status} {body}"
        return await response.json(content_type=None) if body else None


def make_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(DATABASE_URL=database_url, CLAIMDESK_DATA_DIR=str(data_dir), DEFAULT_LANGUAGE="en", **extra)


@pytest.fixture
def settings_extra() -> dict[str, Any]:
    return {}


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle()


@pytest.fixture
async def api(
    db: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    settings_extra: dict[str, Any],
    throttle: LoginThrottle,
) -> AsyncIterator[Api]:
    settings = make_settings(database_url, tmp_path, **settings_extra)
    app = create_app(settings, Database(url=database_url, engine=engine, sessions=db), throttle=throttle)
    tokens: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    async with db() as session:
        for role in Role:
            user = await create_user(session, login=role.value, password=PASSWORD, role=role, full_name=role.title())
            tokens[role.value], _ = await issue_token(session, user_id=user.id, name="tests")
            user_ids[role.value] = user.id
        await session.commit()
    async with TestClient(TestServer(app)) as client:
        yield Api(client=client, tokens=tokens, user_ids=user_ids, sessions=db)
