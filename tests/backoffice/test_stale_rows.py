"""A versioned row changed by a concurrent request between our read and our write (SQLAlchemy's
StaleDataError) answers 412 problem+json, "changed by someone else, reload", never 500.

Two real HTTP requests racing on one claim cannot be made to interleave deterministically, so the
race is staged inside one request of the real app (its error middleware): the request reads the
claim, another transaction commits a change to it, then the request writes its own change."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backoffice.app import create_app
from backoffice.keys import db_key
from shared.claims.models import Claim
from shared.clock import utcnow
from shared.runtime import Database
from tests.backoffice.conftest import make_settings
from tests.factories import make_claim


async def test_a_concurrent_change_of_a_versioned_row_is_412_not_500(
    db: async_sessionmaker[AsyncSession], engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    async with db() as session:
        claim_id = (await make_claim(session)).id
        await session.commit()

    async def reply_racing_a_patch(request: web.Request) -> web.Response:
        sessions = request.app[db_key].sessions
        async with sessions() as mine:
            claim = await mine.get(Claim, claim_id)  # read, no lock (as log_interaction does)
            async with sessions() as theirs:  # a PATCH of the same claim commits meanwhile
                (await theirs.get(Claim, claim_id)).priority = "high"
                await theirs.commit()
            claim.first_response_at = utcnow()
            await mine.commit()  # UPDATE ... WHERE version = <the version read>: no row -> StaleDataError
        return web.json_response({})

    app = create_app(make_settings(database_url, tmp_path), Database(url=database_url, engine=engine, sessions=db))
    app.router.add_post("/test/stale", reply_racing_a_patch)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/test/stale")
        body = await response.json(content_type=None)
    assert response.status == 412, body
    assert response.content_type == "application/problem+json"
    assert body["code"] == "stale_version" and "reload" in body["detail"]
