"""The sign-in throttle (issue 13, fix 5): it counts failures only, per (login, address) and per
address, with growing waits; nobody's guesses lock an account's owner out.

The test server listens on 127.0.0.1; a client bound to 127.0.0.2 is "another address"."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from backoffice.auth import LoginThrottle
from shared.enums import Role
from shared.staff.service import create_user
from tests.backoffice.conftest import PASSWORD, Api

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def elsewhere(api: Api) -> AsyncIterator[aiohttp.ClientSession]:
    """A browser at another address (127.0.0.2), on the back-office's own page."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector, headers={"Origin": api.origin}) as session:
        yield session


async def sign_in(api: Api, login: str, password: str, *, via: aiohttp.ClientSession | None = None) -> int:
    if via is None:
        response = await api.call("POST", LOGIN, as_=None, json={"login": login, "password": password})
    else:
        response = await via.post(api.client.make_url(LOGIN), json={"login": login, "password": password})
    assert response.status != 403, await response.text()
    return response.status


async def test_guesses_from_another_address_do_not_lock_the_account(api: Api, elsewhere: aiohttp.ClientSession) -> None:
    # Five anonymous wrong passwords used to lock the admin out for 15 minutes, wherever they came from.
    guesses = [await sign_in(api, "admin", f"guess {n}", via=elsewhere) for n in range(8)]
    assert guesses == [401] * 5 + [429] * 3
    assert await sign_in(api, "admin", PASSWORD) == 200  # the admin at their own address
    assert await sign_in(api, "admin", PASSWORD, via=elsewhere) == 429  # the guesser's address stays locked


async def test_successful_sign_ins_do_not_count(api: Api) -> None:
    # An office behind one address: its 21st sign-in in 15 minutes used to be refused.
    logins = [role.value for role in Role]
    statuses = [await sign_in(api, logins[n % len(logins)], PASSWORD) for n in range(24)]
    assert statuses == [200] * 24
    # ... nor do they hide failures: the address's failures still add up.
    assert [await sign_in(api, "manager", "wrong") for _ in range(6)] == [401] * 5 + [429]


@pytest.fixture
def throttle(request: pytest.FixtureRequest) -> LoginThrottle:
    """The desk's ladders, or the ones a test names (`SMALL`)."""
    return LoginThrottle(*getattr(request, "param", ()))


# Small ladders: 2 failures in 5 s, then 3 in an hour, per (login, address); 4 per address an hour.
SMALL = pytest.mark.parametrize("throttle", [("2/5 seconds;3/hour", "4/hour")], indirect=True)


async def test_default_ladders(api: Api, throttle: LoginThrottle) -> None:
    for _ in range(5):
        assert await sign_in(api, "operator", "wrong") == 401
    refused = await api.call("POST", LOGIN, as_=None, json={"login": "operator", "password": PASSWORD})
    assert refused.status == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60


@SMALL
async def test_waits_grow_with_the_failures(api: Api) -> None:
    assert [await sign_in(api, "operator", "wrong") for _ in range(3)] == [401, 401, 429]
    first = await api.call("POST", LOGIN, as_=None, json={"login": "operator", "password": "wrong"})
    assert first.status == 429 and int(first.headers["Retry-After"]) <= 5
    await asyncio.sleep(5.2)
    assert await sign_in(api, "operator", "wrong") == 401  # the short window ended: one more try
    second = await api.call("POST", LOGIN, as_=None, json={"login": "operator", "password": PASSWORD})
    assert second.status == 429 and int(second.headers["Retry-After"]) > 3000  # now the hour's window


@SMALL
async def test_the_owner_at_a_known_address_is_not_locked_out_by_guesses_there(api: Api) -> None:
    async with api.sessions() as session:
        await create_user(session, login="newcomer", password=PASSWORD, role=Role.OPERATOR)
        await session.commit()
    assert await sign_in(api, "admin", PASSWORD) == 200  # the admin has signed in from here before
    # Someone at the same address (the office, the proxy) sprays guesses over many logins.
    sprayed = [await sign_in(api, f"user{n}", "guess") for n in range(6)]
    assert sprayed == [401] * 4 + [429] * 2
    assert await sign_in(api, "newcomer", PASSWORD) == 429  # never signed in from here: the address is locked
    assert await sign_in(api, "admin", PASSWORD) == 200  # known here: not locked out by the others
    # A known address still limits guesses at ITS login.
    assert [await sign_in(api, "admin", "guess") for _ in range(3)] == [401, 401, 429]


async def test_attempts_that_did_not_fail_are_not_counted() -> None:
    """Charged before the password check, an attempt refused by a full window, or that signs in,
    is taken back: only failures stay counted."""
    throttle = LoginThrottle("3/hour", "2/hour")
    for login in ("ghost1", "ghost2"):
        assert (await throttle.charge(login, "10.0.0.1", known=False)).wait is None  # 2 failures: the address is full
    for _ in range(5):
        assert (await throttle.charge("operator", "10.0.0.1", known=False)).wait is not None
    # None of those five stayed on the operator's own count there: all three tries are left.
    assert [(await throttle.charge("operator", "10.0.0.1", known=True)).wait is None for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    # A success is refunded too: ten sign-ins leave another address's count as it was.
    for _ in range(10):
        attempt = await throttle.charge("admin", "10.0.0.2", known=False)
        assert attempt.wait is None
        await throttle.succeeded(attempt)
    assert [(await throttle.charge(f"x{n}", "10.0.0.2", known=False)).wait is None for n in range(3)] == [
        True,
        True,
        False,
    ]
