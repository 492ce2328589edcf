"""Cross-site writes (issue 13, fix 3): a page on another site, or on another port of the same host,
cannot use a staff member's session cookie to change anything, nor sign a visitor in."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from backoffice.auth import SESSION_COOKIE
from shared.staff.models import StaffSession, StaffUser
from tests.backoffice.conftest import PASSWORD, Api

NEW_ADMIN = {"login": "mallory", "password": "long enough pw", "role": "admin"}


async def sign_in(api: Api, login: str = "admin") -> None:
    """Sign the test client in with a cookie, as the back-office's own page does."""
    await api.json("POST", "/api/v1/auth/login", as_=None, json={"login": login, "password": PASSWORD})
    assert api.client.session.cookie_jar.filter_cookies(api.client.make_url("/"))[SESSION_COOKIE].value


async def post(api: Api, path: str, body: Any, **headers: str) -> aiohttp.ClientResponse:
    """A request with the signed-in cookie and exactly the headers given (no Authorization)."""
    return await api.client.post(path, data=json.dumps(body).encode(), headers=headers)


async def count_users(api: Api, login: str) -> int:
    async with api.sessions() as session:
        return int(await session.scalar(select(func.count()).where(StaffUser.login == login)) or 0)


def other_port(api: Api) -> str:
    url = api.client.make_url("/")
    assert url.port is not None
    return f"http://{url.host}:{url.port + 1}"


@pytest.mark.parametrize(
    "headers",
    [
        # The attack as reported: a form-like text/plain post from another site.
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"},
        {"Content-Type": "multipart/form-data; boundary=x", "Sec-Fetch-Site": "cross-site"},
        # JSON, but from another site or another port of the same host.
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
        {"Content-Type": "application/json", "Origin": "OTHER_PORT"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
        # JSON that says nothing about where it comes from (a program with a stolen cookie, or a
        # browser so old it sends neither header): refused, programs use API tokens.
        {"Content-Type": "application/json"},
        # The right origin, but a type another site's form could send.
        {"Content-Type": "text/plain", "Origin": "OWN"},
    ],
)
async def test_cookie_signed_writes_from_elsewhere_are_refused(api: Api, headers: dict[str, str]) -> None:
    await sign_in(api)
    replacements = {"OTHER_PORT": other_port(api), "OWN": api.origin}
    headers = {name: replacements.get(value, value) for name, value in headers.items()}
    response = await post(api, "/api/v1/users", NEW_ADMIN, **headers, **{"Accept-Language": "ru"})
    problem = await response.json(content_type=None)
    assert response.status == 403, problem
    assert response.content_type == "application/problem+json"
    assert problem["code"].startswith("cross_site_") and "Отклонено" in problem["detail"]
    assert await count_users(api, "mallory") == 0


async def test_own_pages_may_write_with_the_cookie(api: Api) -> None:
    await sign_in(api)
    created = await post(api, "/api/v1/users", NEW_ADMIN, **{"Content-Type": "application/json", "Origin": api.origin})
    assert created.status == 201, await created.text()
    # Without Origin, Sec-Fetch-Site: same-origin vouches for the page (a charset is fine).
    second = {**NEW_ADMIN, "login": "trent"}
    headers = {"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Site": "same-origin"}
    assert (await post(api, "/api/v1/users", second, **headers)).status == 201
    # A body-less action of the own page needs no Content-Type.
    department = await api.json("POST", "/api/v1/departments", expect=201, json={"name": "Склад"})
    path = f"/api/v1/departments/{department['id']}/deactivate"
    assert (await api.client.post(path, headers={"Origin": "https://evil.example"})).status == 403
    deactivated = await api.client.post(path, headers={"Origin": api.origin})
    assert deactivated.status == 200, await deactivated.text()
    assert (await api.client.post("/api/v1/auth/logout", headers={"Origin": api.origin})).status == 204


@pytest.mark.parametrize("settings_extra", [{"BACKOFFICE_PUBLIC_URL": "https://claims.example.com"}])
async def test_the_configured_public_url_is_the_own_origin(api: Api) -> None:
    # BACKOFFICE_PUBLIC_URL set: its origin (the default port written or not), and only it.
    await sign_in_with(api, "https://claims.example.com:443", expect=200)
    await sign_in_with(api, "https://CLAIMS.example.com", expect=200)
    await sign_in_with(api, "http://claims.example.com", expect=403)
    await sign_in_with(api, api.origin, expect=403)


async def sign_in_with(api: Api, origin: str, *, expect: int) -> None:
    await api.json(
        "POST",
        "/api/v1/auth/login",
        as_=None,
        json={"login": "admin", "password": PASSWORD},
        headers={"Origin": origin},
        expect=expect,
    )


async def test_bearer_token_requests_are_not_checked(api: Api) -> None:
    # A program with a token: no Origin, any Content-Type (a page on another site cannot attach it).
    response = await api.call(
        "POST",
        "/api/v1/users",
        data=json.dumps(NEW_ADMIN).encode(),
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert response.status == 201, await response.text()


async def test_sign_in_from_another_site_is_refused_even_without_a_cookie(api: Api) -> None:
    """Login CSRF: another site's page must not sign the visitor in as the attacker."""
    body = {"login": "operator", "password": PASSWORD}
    for headers in (
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
        {"Content-Type": "application/json", "Origin": other_port(api)},
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": api.origin},
        {"Content-Type": "application/json"},
    ):
        response = await post(api, "/api/v1/auth/login", body, **headers)
        assert response.status == 403, (headers, await response.text())
        assert SESSION_COOKIE not in response.cookies
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StaffSession)) == 0
    ok = await post(api, "/api/v1/auth/login", body, **{"Content-Type": "application/json", "Origin": api.origin})
    assert ok.status == 200 and SESSION_COOKIE in ok.cookies


async def test_uploads_take_multipart_from_the_own_origin_only(api: Api) -> None:
    await sign_in(api, "manager")
    form = aiohttp.FormData()
    form.add_field("file", b"not,a,claims,file\n", filename="claims.csv", content_type="text/csv")
    refused = await api.client.post("/api/v1/imports", data=form, headers={"Origin": "https://evil.example"})
    assert refused.status == 403
    form = aiohttp.FormData()
    form.add_field("file", b"not,a,claims,file\n", filename="claims.csv", content_type="text/csv")
    checked = await api.client.post("/api/v1/imports", data=form, headers={"Origin": api.origin})
    assert checked.status == 422  # past the origin check: the file itself is refused
    as_json = await post(api, "/api/v1/imports", {}, **{"Content-Type": "application/json", "Origin": api.origin})
    assert as_json.status == 403
