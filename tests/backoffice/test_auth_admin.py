"""Sign-in, sessions, throttling, roles; catalogs, customers, users and tokens over HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.app import create_app
from backoffice.auth import SESSION_COOKIE, LoginThrottle
from shared.runtime import Database
from tests.backoffice.conftest import PASSWORD, Api, make_settings
from tests.factories import make_claim, make_customer


async def test_login_cookie_logout(api: Api) -> None:
    response = await api.call("POST", "/api/v1/auth/login", as_=None, json={"login": "Operator", "password": PASSWORD})
    assert response.status == 200
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    first_id = cookie.value
    me = await api.client.get("/api/v1/auth/me")
    assert me.status == 200 and (await me.json())["role"] == "operator"
    # A new id at every sign-in; the old session stops working.
    again = await api.call("POST", "/api/v1/auth/login", as_=None, json={"login": "operator", "password": PASSWORD})
    assert again.cookies[SESSION_COOKIE].value != first_id
    old = await api.client.get("/api/v1/auth/me", cookies={SESSION_COOKIE: first_id})
    assert old.status == 401
    assert (await api.client.get("/api/v1/auth/me")).status == 200
    assert (await api.client.post("/api/v1/auth/logout", headers={"Origin": api.origin})).status == 204
    api.client.session.cookie_jar.clear()
    revoked = await api.client.get("/api/v1/auth/me", cookies={SESSION_COOKIE: again.cookies[SESSION_COOKIE].value})
    assert revoked.status == 401 and revoked.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await api.json(
        "POST", "/api/v1/auth/login", as_=None, json={"login": "operator", "password": "nope"}, expect=401
    )
    assert wrong["code"] == "login_failed"
    await api.json("GET", "/api/v1/auth/me", as_=None, headers={"Authorization": "Basic abc"}, expect=401)
    await api.json("GET", "/api/v1/auth/me", as_=None, headers={"Authorization": "Bearer cdk_forged"}, expect=401)


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle(per_login_address="3/minute", per_address="5/minute")


async def test_failed_logins_are_throttled_per_login_and_address(api: Api, throttle: LoginThrottle) -> None:
    for _ in range(3):
        await api.json("POST", "/api/v1/auth/login", as_=None, json={"login": "admin", "password": "x"}, expect=401)
    limited = await api.call("POST", "/api/v1/auth/login", as_=None, json={"login": "admin", "password": PASSWORD})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    # Other logins from the same address still have two tries before the address is blocked.
    for _ in range(2):
        await api.json("POST", "/api/v1/auth/login", as_=None, json={"login": "ghost", "password": "x"}, expect=401)
    await api.json("POST", "/api/v1/auth/login", as_=None, json={"login": "manager", "password": PASSWORD}, expect=429)


async def test_roles(api: Api) -> None:
    denied = await api.json("GET", "/api/v1/users", as_="manager", expect=403)
    assert denied["code"] == "forbidden" and "admin" in denied["detail"]
    await api.json("POST", "/api/v1/departments", as_="operator", json={"name": "x"}, expect=403)
    await api.json("GET", "/api/v1/claims", as_=None, expect=401)


async def test_catalogs_create_update_deactivate(api: Api) -> None:
    dep = await api.json("POST", "/api/v1/departments", as_="manager", expect=201, json={"name": "Склад"})
    clash = await api.json("POST", "/api/v1/departments", expect=409, json={"name": "Склад"})
    assert clash["errors"][0]["field"] == "name"
    emp = await api.json(
        "POST",
        "/api/v1/employees",
        as_="manager",
        expect=201,
        json={"name": "Пётр", "department_id": dep["id"], "position": "кладовщик"},
    )
    group = await api.json("POST", "/api/v1/reasons", expect=201, json={"name": "Доставка"})
    reason = await api.json("POST", "/api/v1/reasons", expect=201, json={"name": "Опоздание", "parent_id": group["id"]})
    await api.json("POST", "/api/v1/reasons", expect=422, json={"name": "x", "parent_id": 999999})
    renamed = await api.json("PATCH", f"/api/v1/employees/{emp['id']}", as_="manager", json={"name": "Пётр И."})
    assert renamed["name"] == "Пётр И." and renamed["department_id"] == dep["id"]
    await api.json("PATCH", f"/api/v1/departments/{dep['id']}", json={"name": "Склад №1"})
    gone = await api.json("POST", f"/api/v1/reasons/{reason['id']}/deactivate", as_="manager")
    assert gone["active"] is False
    await api.json("POST", f"/api/v1/departments/{dep['id']}/deactivate")
    await api.json("POST", f"/api/v1/employees/{emp['id']}/deactivate")
    listed = await api.json("GET", "/api/v1/reasons", as_="operator")
    assert {r["name"]: r["active"] for r in listed["items"]} == {"Доставка": True, "Опоздание": False}
    active = await api.json("GET", "/api/v1/reasons?include_inactive=false")
    assert [r["name"] for r in active["items"]] == ["Доставка"]
    assert len((await api.json("GET", "/api/v1/departments"))["items"]) == 1
    assert len((await api.json("GET", "/api/v1/employees"))["items"]) == 1
    # A deactivated entry can no longer be chosen for a claim.
    async with api.sessions() as session:
        claim = await make_claim(session)
        await session.commit()
    refused = await api.json(
        "PATCH",
        f"/api/v1/claims/{claim.id}",
        headers={"If-Match": '"v1"'},
        json={"reason_id": reason["id"]},
        expect=422,
    )
    assert refused["errors"][0]["field"] == "reason_id"
    await api.json("PATCH", "/api/v1/departments/999999", json={"name": "x"}, expect=404)


async def test_customers_list_search_one(api: Api) -> None:
    async with api.sessions() as session:
        anna = await make_customer(session, name="Анна Петрова")
        await make_customer(session, name="Boris Ivanov")
        await make_claim(session, customer=anna)
        await session.commit()
    everyone = await api.json("GET", "/api/v1/customers?limit=1", as_="operator")
    assert everyone["total"] == 2 and len(everyone["items"]) == 1 and everyone["next_cursor"]
    rest = await api.json("GET", f"/api/v1/customers?limit=1&cursor={everyone['next_cursor']}")
    assert rest["items"][0]["id"] != everyone["items"][0]["id"] and rest["next_cursor"] is None
    found = await api.json("GET", "/api/v1/customers?q=петров")
    assert [c["id"] for c in found["items"]] == [anna.id]
    by_phone = await api.json("GET", f"/api/v1/customers?q={anna.phone[-7:]}")
    assert [c["id"] for c in by_phone["items"]] == [anna.id]
    one = await api.json("GET", f"/api/v1/customers/{anna.id}", as_="operator")
    assert one["name"] == "Анна Петрова" and len(one["claims"]) == 1
    await api.json("GET", "/api/v1/customers/999999", expect=404)


async def test_users_and_tokens(api: Api) -> None:
    olga = {"login": "olga", "password": "long enough pw", "role": "operator", "full_name": "Ольга"}
    user = await api.json("POST", "/api/v1/users", expect=201, json=olga)
    await api.json(
        "POST", "/api/v1/users", expect=409, json={"login": "olga", "password": "long enough pw", "role": "operator"}
    )
    bad = await api.json("POST", "/api/v1/users", expect=422, json={"login": "", "password": "short", "role": "boss"})
    assert {e["field"] for e in bad["errors"]} == {"login", "password", "role"}
    issued = await api.json("POST", f"/api/v1/users/{user['id']}/tokens", expect=201, json={"name": "script"})
    assert issued["token"].startswith("cdk_")
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert (await api.call("GET", "/api/v1/auth/me", as_=None, headers=headers)).status == 200
    promoted = await api.json("PATCH", f"/api/v1/users/{user['id']}", json={"role": "manager"})
    assert promoted["role"] == "manager"
    listed = await api.json("GET", f"/api/v1/tokens?owner_id={user['id']}")
    assert [t["name"] for t in listed["items"]] == ["script"] and "token" not in listed["items"][0]
    revoked = await api.json("POST", f"/api/v1/tokens/{issued['id']}/revoke")
    assert revoked["revoked_at"] is not None
    assert (await api.call("GET", "/api/v1/auth/me", as_=None, headers=headers)).status == 401
    # Deactivating ends sign-in sessions too.
    credentials = {"login": "olga", "password": "long enough pw"}
    login = await api.call("POST", "/api/v1/auth/login", as_=None, json=credentials)
    cookie = login.cookies[SESSION_COOKIE].value
    api.client.session.cookie_jar.clear()
    await api.json("PATCH", f"/api/v1/users/{user['id']}", json={"active": False})
    after = await api.client.get("/api/v1/auth/me", cookies={SESSION_COOKIE: cookie})
    assert after.status == 401
    users = await api.json("GET", "/api/v1/users")
    assert {u["login"] for u in users["items"]} == {"admin", "manager", "operator", "olga"}
    await api.json("PATCH", "/api/v1/users/999999", json={"role": "admin"}, expect=404)
    await api.json("POST", "/api/v1/tokens/999999/revoke", expect=404)


async def test_parallel_wrong_logins_are_charged_before_the_password_is_checked(api: Api) -> None:
    # 3 tries per login (the fixture above): the slow password check must not let a burst through.
    async def attempt() -> int:
        response = await api.call(
            "POST", "/api/v1/auth/login", as_=None, json={"login": "operator", "password": "wrong password"}
        )
        return response.status

    statuses = await asyncio.gather(*(attempt() for _ in range(30)))
    assert statuses.count(401) <= 3 and statuses.count(429) == 30 - statuses.count(401), statuses
    await api.json("POST", "/api/v1/auth/login", as_=None, json={"login": "operator", "password": PASSWORD}, expect=429)


async def test_a_successful_login_clears_its_window(api: Api) -> None:
    login = "/api/v1/auth/login"
    for _ in range(2):
        await api.json("POST", login, as_=None, json={"login": "manager", "password": "x"}, expect=401)
    await api.json("POST", login, as_=None, json={"login": "manager", "password": PASSWORD}, expect=200)
    await api.json("POST", login, as_=None, json={"login": "manager", "password": "x"}, expect=401)


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(api: Api) -> None:
    me = await api.json("GET", "/api/v1/auth/me")
    for change in ({"role": "manager"}, {"active": False}):
        refused = await api.json("PATCH", f"/api/v1/users/{me['id']}", json=change, expect=409)
        assert "admin" in refused["detail"]
    assert (await api.json("GET", "/api/v1/auth/me"))["role"] == "admin"
    # With a second admin the first may step down.
    second = await api.json(
        "POST", "/api/v1/users", expect=201, json={"login": "second", "password": "long enough pw", "role": "admin"}
    )
    assert second["role"] == "admin"
    await api.json("PATCH", f"/api/v1/users/{me['id']}", json={"role": "manager"})
    assert (await api.json("GET", "/api/v1/auth/me"))["role"] == "manager"


async def test_login_throttle_is_shared_by_processes_through_redis(
    api: Api, database_url: str, engine, db, tmp_path, redis_url: str
) -> None:
    """Two back-office processes behind one address (two apps here, each with its own throttle
    built from REDIS_URL) count one login's failures there together: 5 in all, not 5 each."""
    settings = make_settings(database_url, tmp_path, REDIS_URL=redis_url)
    apps = [create_app(settings, Database(url=database_url, engine=engine, sessions=db)) for _ in range(2)]
    async with TestClient(TestServer(apps[0])) as first, TestClient(TestServer(apps[1])) as second:
        body = {"login": "admin", "password": "wrong"}

        async def sign_in(client: TestClient, body: dict[str, str]) -> int:
            origin = str(client.make_url("/").origin())
            return (await client.post("/api/v1/auth/login", json=body, headers={"Origin": origin})).status

        statuses = [await sign_in((first, second)[n % 2], body) for n in range(6)]
        assert statuses == [401] * 5 + [429]
        right = await sign_in(second, {"login": "admin", "password": PASSWORD})
        assert right == 429  # the window is the login's at this address, whichever process answers
