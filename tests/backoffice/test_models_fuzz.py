"""Property-based (hypothesis) over the API's request models (issue 13, fix 4): for every route of
`all_routes()` with a body or query model, requests built from the model's JSON schema, with
values in its bounds and values just outside them or hostile (integers past 64 bits, dates out of
range, NUL, lone surrogates, deep nesting, huge strings...), sent to the real app on the test
database: nothing answers 5xx.

Schemathesis (test_schemathesis.py) fuzzes from the OpenAPI document; this test aims at what the
document does not say (the Python-side checks, text the database cannot store) and at the
sign-in route anonymously. FUZZ_MAX_EXAMPLES sets the examples per route (default 25)."""

from __future__ import annotations

import base64
import json
import os
import re
import string
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from backoffice.api import ApiRoute, all_routes
from shared.actors import Actor
from shared.claims.queries import SORT_CHOICES
from shared.enums import Direction, InteractionChannel
from shared.interactions.service import log_interaction
from shared.plans.service import add_plan_item
from tests.backoffice.conftest import Api
from tests.factories import make_catalogs, make_claim

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
ROUTES = [route for route in all_routes() if route.body is not None or route.query is not None]
PATH_PARAM = re.compile(r"{(\w+)}")

# Values that broke (or could break) something past validation: the database's ranges and text.
HOSTILE_INTS = st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)])
HOSTILE_NUMBERS = st.sampled_from([1e308, -1e308, 1e-308, 0.1, 123456789012.345, 5e-324])
HOSTILE_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfff",
        "\u202e\u200b",
        "0001-01-01",
        "0000-00-00",
        "9999-12-31",
        "10000-01-01",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-12:00",
        "1970-01-01T00:00:00",
        "2026-02-30",
        "NaN",
        "Infinity",
        "-0",
        "1e400",
        "18446744073709551616",
        "true",
        "null",
        "'; DROP TABLE claim; --",
        "%00",
        "<script>alert(1)</script>",
        "Ё" * 5000,
        "x" * 100_001,
    ]
)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
# Deep nesting is written into the JSON text after encoding (json.dumps itself would recurse).
NESTED = st.integers(min_value=1, max_value=5000).map(lambda depth: f"__nested_{depth}__")
NESTED_MARK = re.compile(rb'"__nested_(\d+)__"')
HOSTILE = st.one_of(
    HOSTILE_INTS,
    HOSTILE_NUMBERS,
    HOSTILE_STRINGS,
    NESTED,
    st.recursive(
        JSON_SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    ),
)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def fitting(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema allows (as far as JSON Schema says: the models check more in Python)."""
    schema = _resolve(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([fitting(option, defs) for option in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = schema.get("minimum", -(2**63))
        high = schema.get("maximum", 2**63 - 1)
        return st.integers(min_value=low, max_value=high) | st.sampled_from([low, high])
    if kind == "number":
        low = Decimal(str(schema.get("minimum", -(10**12))))
        high = Decimal(str(schema.get("exclusiveMaximum", schema.get("maximum", 10**12)))) - Decimal("0.01")
        return st.decimals(min_value=low, max_value=high, places=2).map(float)
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat)
        if fmt == "date-time":
            zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
            return st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones).map(
                datetime.isoformat
            )
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 200)
        low = schema.get("minLength", 0)
        high = min(schema.get("maxLength", 300), 300)
        long = schema.get("maxLength", 300)
        return st.text(min_size=low, max_size=high) | st.just("ы" * long)
    if kind == "array":
        items = fitting(schema.get("items", {}), defs) if schema.get("items") else JSON_SCALARS
        return st.lists(items, max_size=min(schema.get("maxItems", 5), 12))
    if kind == "object" or "properties" in schema:
        return body_of(schema, defs)
    return JSON_SCALARS


@st.composite
def body_of(draw: st.DrawFn, schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """An object of the schema: required fields and some optional ones, each within its bounds but
    (most of the time) one, which gets a hostile value: a request with several bad fields stops
    at the first check and would never reach the deeper ones."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    names = sorted(properties)
    spoilt = draw(st.none() | st.sampled_from(names)) if names else None
    chosen = [name for name in names if name in required or name == spoilt or draw(st.booleans())]
    return {name: draw(HOSTILE if name == spoilt else fitting(properties[name], defs)) for name in chosen}


def nest(raw: bytes) -> bytes:
    return NESTED_MARK.sub(lambda m: b"[" * int(m.group(1)) + b"]" * int(m.group(1)), raw)


@st.composite
def cursors(draw: st.DrawFn) -> tuple[str, str]:
    """A sort and a cursor of the claims list's shape ([sort, value, id, total], base64 of JSON)
    with values in range or hostile. The total stays within 64 bits: past that it is a known
    failure of the cursor's decoding, left to the work on shared/claims/queries.py (see the strict
    xfail in test_bad_input.py)."""
    sort = draw(st.sampled_from(SORT_CHOICES))
    key = sort.lstrip("-")
    zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
    moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
    of_its_type = {
        "id": st.integers(min_value=1, max_value=10**6) | HOSTILE_INTS,
        "number": st.text(max_size=20) | HOSTILE_STRINGS,
    }.get(
        key,
        (
            moments.map(datetime.isoformat)
            | st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
            | HOSTILE_STRINGS
        ).map(lambda text: {"t": text}),
    )
    value = draw(of_its_type | st.one_of(st.none(), st.booleans(), HOSTILE_INTS, HOSTILE_STRINGS))
    ident = draw(st.integers(min_value=1, max_value=10**6) | HOSTILE_INTS)
    total = draw(st.integers(min_value=0, max_value=2**63 - 1))
    raw = json.dumps([sort, value, ident, total], ensure_ascii=draw(st.booleans()))
    return sort, base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def query_text(value: Any) -> list[str]:
    """A generated value as query parameter values (as a client would write them)."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [text for item in value for text in query_text(item)] or [""]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


def encode(text: str) -> str:
    # Lone surrogates go out as the bytes Python would write with surrogatepass (invalid UTF-8).
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def requests(draw: st.DrawFn, route: ApiRoute, ids: dict[str, int]) -> dict[str, Any]:
    path = PATH_PARAM.sub(
        lambda m: str(draw(st.sampled_from([ids.get(m.group(1), 1), 1, 999_999, 2**63 - 1]))), route.path
    )
    request: dict[str, Any] = {"method": route.method, "path": path, "headers": {}}
    if route.query is not None:
        schema = route.query.model_json_schema(mode="validation", by_alias=True)
        defs = schema.get("$defs", {})
        values = draw(body_of(schema, defs))
        if "cursor" in schema["properties"] and "sort" in schema["properties"] and draw(st.booleans()):
            # A page after the first, all else as it was: the cursor alone is the hostile part.
            sort, cursor = draw(cursors())
            values = {"sort": sort, "cursor": cursor, **({"limit": 1} if draw(st.booleans()) else {})}
        pairs = [(name, text) for name, value in values.items() for text in query_text(value)]
        if draw(st.booleans()):
            pairs.append((draw(st.sampled_from(sorted(values) or ["q"])), draw(HOSTILE_STRINGS)))
        query = "&".join(f"{encode(name)}={encode(text)}" for name, text in pairs)
        request["path"] = f"{path}?{query}" if query else path
    if route.body is not None:
        schema = route.body.model_json_schema(mode="validation")
        defs = schema.get("$defs", {})
        body = draw(body_of(schema, defs))
        if draw(st.integers(0, 9)) == 0:
            body[draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))] = draw(HOSTILE)
        request["body"] = nest(json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
        request["headers"]["Content-Type"] = "application/json"
    if "If-Match" in route.headers:
        tag = draw(st.sampled_from([None, '"v1"', 'W/"v1"', '"v999999999999"', '"garbage"', ""]))
        if tag is not None:
            request["headers"]["If-Match"] = tag
    return request


@pytest.fixture
async def ids(api: Api) -> dict[str, int]:
    """Rows for the path parameters to name (so requests reach the services, not only 404s)."""
    async with api.sessions() as session:
        department, employee, reason = await make_catalogs(session)
        claim = await make_claim(session)
        item = await add_plan_item(session, claim_id=claim.id, actor=Actor.system(), title="Проверить")
        await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text="текст",
            claim_id=claim.id,
        )
        await session.commit()
        return {
            "claim_id": claim.id,
            "item_id": item.id,
            "department_id": department.id,
            "employee_id": employee.id,
            "reason_id": reason.id,
            "user_id": api.user_ids["operator"],
        }


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_no_request_built_from_the_models_is_a_server_error(
    api: Api, ids: dict[str, int], route: ApiRoute, data: st.DataObject
) -> None:
    request = data.draw(requests(route, ids))
    # The admin passes every role check; the public sign-in is tried anonymously, from the own page.
    caller = "admin" if route.role is not None else None
    headers = dict(request["headers"])
    if caller is None:
        headers["Origin"] = api.origin
    else:
        headers["Authorization"] = f"Bearer {api.tokens[caller]}"
    response = await api.client.request(
        request["method"], URL(request["path"], encoded=True), data=request.get("body"), headers=headers
    )
    body = await response.read()
    shown = {**request, "path": request["path"][:300], "body": (request.get("body") or b"")[:300]}
    assert response.status < 500, (shown, response.status, body[:1000])
    if response.status >= 400 and len(request["path"]) < 8000:
        # (A longer request line is refused by aiohttp's HTTP parser, 400 in plain text, before the app.)
        assert response.content_type == "application/problem+json", (shown, response.status, body[:300])
