"""What counts as an outage (shared/outage.py): the database or Redis away for now, not a full disk
or a refused file; and an outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import errno
import logging
import socket

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from sqlalchemy.exc import OperationalError

from shared.outage import OutageLog, is_outage, wait_for_database


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), True),
        (OSError(errno.EHOSTUNREACH, "no route to host"), True),
        (socket.gaierror(-3, "temporary failure in name resolution"), True),
        (TimeoutError(), True),
        (RedisConnectionError("Connection closed by server."), True),
        (OSError(errno.ENOSPC, "No space left on device"), False),
        (PermissionError(errno.EACCES, "Permission denied"), False),
        (ResponseError("WRONGTYPE"), False),
        (ValueError("bad input"), False),
    ],
)
def test_is_outage(exc: BaseException, outage: bool) -> None:
    assert is_outage(exc) is outage


def test_a_wrapped_driver_error_is_an_outage() -> None:
    wrapped = OperationalError("SELECT 1", {}, ConnectionResetError())
    try:
        raise wrapped from ConnectionResetError()
    except OperationalError as exc:
        assert is_outage(exc)


async def test_waiting_says_it_once_and_once_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    calls = {"n": 0}

    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 5:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        return "answered"

    outages = OutageLog("test part")
    assert await wait_for_database(flaky, outages, initial=0.01, maximum=0.02) == "answered"
    lines = [r.getMessage() for r in caplog.records]
    assert sum("database unavailable" in line for line in lines) == 1
    assert sum("database is back" in line for line in lines) == 1
    assert not outages.down


async def test_anything_else_is_raised_at_once() -> None:
    calls = {"n": 0}

    async def broken() -> None:
        calls["n"] += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await wait_for_database(broken, OutageLog("test part"), initial=0.01)
    assert calls["n"] == 1
