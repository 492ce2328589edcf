"""The database away for a while (stopped, restarting, the network gone), as every part of the
desk recognises it, logs it and waits it out.

- `is_outage(exc)`: "not now" rather than "never": the network, the pool, PostgreSQL's connection
  exception (08), insufficient resources (53: too many connections), operator intervention (57:
  shutdown, cannot connect now), transaction rollback (40: deadlock), a connection asyncpg found
  closed. The bot, the back-office, the delivery worker and the sweeper all ask this one function.
- `OutageLog`: the log says so ONCE when an outage starts and once when it ends, per part, not
  once per failed request, update or poll.
- `wait_for_database(...)`: retry an operation with a growing pause (tenacity) while the failure
  is an outage, logging through an `OutageLog`; anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
from sqlalchemy import exc as sa_exc
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never, wait_exponential_jitter

log = logging.getLogger("claimdesk.database")

T = TypeVar("T")

_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, a broken pipe
    TimeoutError,
    socket.gaierror,  # the host's name does not resolve (DNS away)
    sa_exc.TimeoutError,  # no pool connection in time
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TransactionRollbackError,
)
# The network's other "not now" (an OSError that is no ConnectionError): a disk full or a file
# refused is not an outage of the database.
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ETIMEDOUT, errno.ECONNREFUSED}
)
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300")

# The pause between attempts while the database is away: from half a second, doubling, at most 5 s
# (a restart is noticed within seconds of the server being back, a long outage costs nothing).
INITIAL_PAUSE = 0.5
MAX_PAUSE = 5.0


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and its causes (SQLAlchemy raises its errors `from` the driver's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _redis_connection_error(exc: BaseException) -> bool:
    # By name: redis-py is imported only by the processes that use Redis (REDIS_URL), not here.
    return any(
        cls.__module__ == "redis.exceptions" and cls.__name__ in ("ConnectionError", "TimeoutError")
        for cls in type(exc).__mro__
    )


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database, Redis (the bot's conversation state, with REDIS_URL) or
    the network to them is unavailable for now."""
    for item in _chain(exc):
        if isinstance(item, _OUTAGES) or _redis_connection_error(item):
            return True
        if isinstance(item, OSError) and item.errno in _NETWORK_ERRNOS:
            return True
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return True  # SQLAlchemy recognised a lost connection
        if isinstance(item, asyncpg.InterfaceError) and "connection is closed" in str(item):
            return True
        if str(getattr(item, "sqlstate", "") or "").startswith(_OUTAGE_STATES):
            return True
    return False


def what_is_away(exc: BaseException) -> str:
    return "Redis" if any(_redis_connection_error(item) for item in _chain(exc)) else "database"


def first_line(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OutageLog:
    """Logs the start and the end of an outage, once each, for one part of the desk."""

    def __init__(self, part: str, *, logger: logging.Logger | None = None) -> None:
        self.part = part
        self.log = logger or log
        self.since: float | None = None
        self.what = "database"

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, doing: str = "waiting") -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.what = what_is_away(exc)
            self.log.error("%s: %s unavailable (%s); %s until it is back", self.part, self.what, first_line(exc), doing)

    def recovered(self) -> None:
        if self.since is not None:
            self.log.warning("%s: %s is back after %.1f s", self.part, self.what, time.monotonic() - self.since)
            self.since = None


async def wait_for_database(
    operation: Callable[[], Awaitable[T]],
    outages: OutageLog,
    *,
    doing: str = "retrying",
    stop: asyncio.Event | None = None,
    initial: float = INITIAL_PAUSE,
    maximum: float = MAX_PAUSE,
) -> T:
    """Run `operation` until it succeeds, pausing with a growing delay while the database is away
    (said once through `outages`); any other failure is raised at once. With `stop` set while
    waiting, the last failure is raised."""

    def note(state: RetryCallState) -> None:
        if state.outcome is not None and state.outcome.failed:
            outages.failed(state.outcome.exception(), doing)  # type: ignore[arg-type]

    async def pause(seconds: float) -> None:
        if stop is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            return

    def stopped(_: RetryCallState) -> bool:
        return stop is not None and stop.is_set()

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_outage),
        wait=wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial),
        stop=stopped if stop is not None else stop_never,
        before_sleep=note,
        sleep=pause,
        reraise=True,
    )
    # The iterator form: it awaits whatever `operation` returns (a lambda or a partial of a
    # coroutine function included, which `AsyncRetrying.__call__` would not await).
    async for attempt in retrying:
        with attempt:
            result = await operation()
    outages.recovered()
    return result
