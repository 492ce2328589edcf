"""The authorisation matrix, generated from the route table: every route x (anonymous, operator,
manager, admin). A route added to any module of backoffice/api is checked here without more work."""

from __future__ import annotations

import re

from backoffice.api import ApiRoute, all_routes
from shared.enums import Role
from tests.backoffice.conftest import Api

CALLERS: tuple[str | None, ...] = (None, "operator", "manager", "admin")


def expected(route: ApiRoute, caller: str | None) -> str:
    if route.role is None:
        return "through"
    if caller is None:
        return "401"
    return "through" if Role(caller).at_least(route.role) else "403"


def test_matrix_covers_the_whole_table() -> None:
    routes = all_routes()
    assert len(routes) >= 35
    assert {r.path for r in routes if r.role is None} == {"/api/v1/auth/login"}


async def test_authorisation_matrix(api: Api) -> None:
    mismatches = []
    for route in all_routes():
        path = re.sub(r"{\w+}", "999999", route.path)
        for caller in CALLERS:
            response = await api.call(route.method, path, as_=caller, json={} if route.body else None)
            status = response.status
            got = str(status) if status in (401, 403) else "through"
            if got != expected(route, caller):
                mismatches.append(f"{route.method} {route.path} as {caller}: {status}, want {expected(route, caller)}")
            assert status < 500, f"{route.method} {route.path} as {caller}: {status}"
    assert not mismatches, "\n".join(mismatches)
