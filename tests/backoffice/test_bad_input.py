"""Bad input that used to be answered 500 (issue 13, fix 4): each is a 4xx problem now."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from backoffice.api.http import MAX_JSON_BODY, read_limited
from backoffice.problems import ApiProblem, from_http_exception, render
from shared.db import asyncpg_dsn
from shared.i18n import get_translator
from tests.backoffice.conftest import Api
from tests.factories import make_claim

LOGIN = "/api/v1/auth/login"


async def problem_of(response: Any, status: int) -> dict[str, Any]:
    body = await response.text()
    assert response.status == status, body
    assert response.content_type == "application/problem+json"
    return json.loads(body)


@pytest.mark.parametrize("depth", [1_000, 100_000])
async def test_deeply_nested_json_is_a_400(api: Api, depth: int) -> None:
    # 1,000 levels in 4 KB raised RecursionError in json.loads: a 500, anonymous.
    nested = b'{"login": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'
    response = await api.call("POST", LOGIN, as_=None, data=nested, headers={"Content-Type": "application/json"})
    assert (await response.json(content_type=None))["status"] in (400, 422)
    assert response.status in (400, 422)
    response = await api.call("POST", "/api/v1/claims", data=b"[" * depth + b"]" * depth)
    assert response.status == 400


async def chunks(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """A body sent without Content-Length (chunked transfer encoding)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


@pytest.mark.parametrize("total", [MAX_JSON_BODY + 1, 25 * 1024 * 1024])
async def test_a_body_over_the_limit_is_a_413_problem(api: Api, total: int) -> None:
    # Past the app's 20 MB aiohttp raised its own 413, which the problem renderer failed on (KeyError).
    response = await api.call("POST", LOGIN, as_=None, data=chunks(total), headers={"Content-Type": "application/json"})
    problem = await problem_of(response, 413)
    assert problem["code"] == "too_large" and str(MAX_JSON_BODY) in problem["detail"]
    response = await api.call(
        "POST", "/api/v1/claims", data=chunks(total), headers={"Content-Type": "application/json"}
    )
    assert (await problem_of(response, 413))["code"] == "too_large"


async def test_a_body_without_length_is_read_only_up_to_the_limit() -> None:
    """No more than the limit (and a chunk) is read before the body is refused: it used to buffer
    up to 20 MB first."""
    protocol = make_mocked_request("POST", LOGIN).protocol
    payload = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    request = make_mocked_request("POST", LOGIN, headers={"Transfer-Encoding": "chunked"}, payload=payload)
    sent = 8 * MAX_JSON_BODY
    payload.feed_data(b" " * sent)
    payload.feed_eof()
    with pytest.raises(ApiProblem) as refused:
        await read_limited(request, MAX_JSON_BODY)
    assert refused.value.status == 413
    left = len(await payload.read())
    assert sent - left <= MAX_JSON_BODY + 64 * 1024, sent - left


def test_aiohttps_own_413_renders() -> None:
    exc = web.HTTPRequestEntityTooLarge(max_size=20 * 1024 * 1024, actual_size=20 * 1024 * 1024 + 1)
    for language in ("ru", "en"):
        response = render(from_http_exception(exc, body_limit=20 * 1024 * 1024), get_translator(language))
        assert response.status == 413 and "20971520" in (response.text or "")


def cursor(*fields: Any, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps(list(fields))
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


TAMPERED = {
    # Integers beyond 64 bits: the id, the sort value of `id`.
    "id_over_64_bits": ("-registered_at", cursor("-registered_at", {"t": "2026-01-01T00:00:00+00:00"}, 2**70)),
    "sort_value_over_64_bits": ("id", cursor("id", 2**64, 1)),
    "negative_sort_value_over_64_bits": ("-id", cursor("-id", -(2**70), 1)),
    # Dates out of the range PostgreSQL (or a time zone shift) can take.
    "date_year_1": ("-registered_at", cursor("-registered_at", {"t": "0001-01-01T00:00:00+05:00"}, 1)),
    "date_year_9999_east": ("due_at", cursor("due_at", {"t": "9999-12-31T23:59:59-05:00"}, 1)),
    "date_not_iso": ("updated_at", cursor("updated_at", {"t": "tomorrow"}, 1)),
    # NUL and lone surrogates in a cursor's text value.
    "nul_in_number": ("number", cursor("number", "2026-\x00001", 1)),
    "nul_escaped_in_number": ("number", cursor(raw='["number","2026-\\u0000",1]')),
    "lone_surrogate_in_number": ("number", cursor(raw='["number","\\ud800",1]')),
    "raw_surrogate_bytes": ("number", cursor(raw='["number","\ud800",1]')),
    "nul_in_date": ("-registered_at", cursor(raw='["-registered_at",{"t":"2026-01-01\\u0000"},1]')),
    # Not even a cursor.
    "not_base64": ("-registered_at", "%%%"),
    "not_json": ("-registered_at", cursor(raw="not json")),
    "wrong_sort": ("id", cursor("number", "x", 1)),
}


@pytest.mark.parametrize(
    "name",
    sorted(TAMPERED),
)
async def test_a_tampered_cursor_is_a_422(api: Api, database_url: str, name: str) -> None:
    async with api.sessions() as session:
        await make_claim(session)
        await session.commit()
    sort, value = TAMPERED[name]
    response = await api.client.get(
        "/api/v1/claims",
        params={"sort": sort, "cursor": value},
        headers={"Authorization": f"Bearer {api.tokens['operator']}"},
    )
    problem = await problem_of(response, 422)
    assert problem["code"] == "invalid"
    # Nothing of the refused statement stays behind: asyncpg left the server waiting mid-statement
    # with the claim table locked when it could not encode a parameter (the next test's TRUNCATE
    # waited forever), unless the connection is dropped.
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            await conn.execute("LOCK TABLE claim IN ACCESS EXCLUSIVE MODE")
    finally:
        await conn.close()
