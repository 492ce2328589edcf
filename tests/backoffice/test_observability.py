"""The back-office's request id (taken or made, echoed, on every line logged while the request is
handled) and its /metrics: the outbox's backlog read at scrape time, claims registered counted
once committed, request latency by route."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backoffice.app import create_app
from shared.clock import utcnow
from shared.logs import log_handler
from shared.outbox.models import OutboxMessage
from shared.runtime import Database
from tests.backoffice.conftest import Api, make_settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.call("GET", "/metrics", as_="admin")
    assert response.status == 200
    return samples(await response.text())


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = log_handler("json", out)
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


async def test_the_outbox_backlog_is_read_when_scraped(api: Api) -> None:
    now = utcnow()
    rows = [("pending", 90), ("sending", 30), ("sent", 1000), ("failed", 2000)]
    async with api.sessions.begin() as session:
        for n, (status, age) in enumerate(rows):
            session.add(
                OutboxMessage(
                    chat_id=1000 + n,
                    method="sendMessage",
                    payload={"text": "x"},
                    status=status,
                    created_at=now - timedelta(seconds=age),
                )
            )
    values = await scrape(api)
    assert values[("claimdesk_outbox_depth", ())] == 2  # the sent and the failed ones are not owed any more
    assert 90 <= values[("claimdesk_outbox_oldest_age_seconds", ())] < 120
    async with api.sessions.begin() as session:
        await session.execute(OutboxMessage.__table__.delete())
    values = await scrape(api)
    assert values[("claimdesk_outbox_depth", ())] == 0 and values[("claimdesk_outbox_oldest_age_seconds", ())] == 0


async def test_claims_registered_by_channel_and_request_latency_by_route(api: Api) -> None:
    key = ("claimdesk_claims_registered_total", (("channel", "phone"),))
    before = (await scrape(api)).get(key, 0.0)
    await api.json(
        "POST",
        "/api/v1/claims",
        expect=201,
        json={
            "channel": "phone",
            "description": "The kettle leaks",
            "customer_name": "Anna",
            "customer_phone": "+79990001122",
        },
    )
    refused = await api.call(
        "POST", "/api/v1/claims", json={"channel": "phone", "description": "x", "customer_id": 999999}
    )
    assert refused.status == 422  # refused: nothing registered, nothing counted
    values = await scrape(api)
    assert values[key] == before + 1
    latency = ("claimdesk_http_request_duration_seconds_count", (("method", "POST"), ("route", "/api/v1/claims")))
    assert values[latency] == 2


async def test_the_request_id_is_taken_or_made_and_echoed(api: Api) -> None:
    given = await api.call("GET", "/healthz", as_=None, headers={"X-Request-Id": "lb-7f3a.2:9"})
    assert given.headers["X-Request-Id"] == "lb-7f3a.2:9"
    made = await api.call("GET", "/api/v1/claims/99", headers={"X-Request-Id": 'bad id "quoted" ' + "x" * 200})
    assert made.status == 404 and re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    other = await api.call("GET", "/healthz", as_=None)
    assert other.headers["X-Request-Id"] != made.headers["X-Request-Id"]


@pytest.fixture
async def failing_client(
    db: async_sessionmaker[AsyncSession], engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with one more route, which logs a line and then fails as a bug would."""

    async def broken(request: web.Request) -> web.Response:
        logging.getLogger("tests.broken").warning("about to fail")
        raise RuntimeError("a bug")

    app = create_app(make_settings(database_url, tmp_path), Database(url=database_url, engine=engine, sessions=db))
    app.router.add_get("/broken", broken)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_lines_logged_while_a_request_is_handled_carry_its_id(
    failing_client: TestClient[Any, Any], json_log: io.StringIO
) -> None:
    response = await failing_client.get("/broken", headers={"X-Request-Id": "req-42"})
    assert response.status == 500 and response.headers["X-Request-Id"] == "req-42"
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [r for r in records if r.get("request_id") == "req-42"]
    assert [r["message"] for r in mine] == ["about to fail", "unhandled error on GET /broken"]
    assert "RuntimeError: a bug" in mine[1]["exc_info"]
