"""Every page checks who asks, generated from the pages' route table (backoffice/web/routes.py),
as tests/backoffice/test_authz_matrix.py does for the API: signed out, a page goes to the sign-in
page; a role below the route's gets 403 for reading and for posting (with a valid CSRF token)."""

from __future__ import annotations

import re

import aiohttp
import pytest

from backoffice.web.routes import all_web_routes
from shared.enums import Role
from tests.web.conftest import Desk, session_cookie

ROUTES = [r for r in all_web_routes() if r.role is not None and not r.streaming]


def concrete(path: str) -> str:
    """A path of the route with its parameters filled in (a catalog kind, else the id 1)."""
    path = re.sub(r"{kind:[^}]*}", "departments", path)
    return re.sub(r"{[^}]+}", "1", path)


async def _client(desk: Desk, login: str) -> tuple[aiohttp.ClientSession, str]:
    cookie = await session_cookie(desk, login)
    client = aiohttp.ClientSession(cookies={cookie["name"]: cookie["value"]})
    async with client.get(desk.url + "/undelivered") as response:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert token is not None
    return client, token.group(1)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
async def test_pages_refuse_whoever_may_not(desk: Desk, route) -> None:
    path = concrete(route.path)
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.request(route.method, desk.url + path, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"].startswith("/signin?next=")
    for role in Role:
        if Role(role).at_least(route.role):
            continue
        client, token = await _client(desk, role.value)
        try:
            data = {"csrf_token": token} if route.method == "POST" else None
            async with client.request(route.method, desk.url + path, data=data, allow_redirects=False) as response:
                assert response.status == 403, f"{role.value}: {response.status}"
        finally:
            await client.close()
