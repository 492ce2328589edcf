"""Database outages as the back-office answers them.

While PostgreSQL cannot be reached (stopped, restarting, the network gone, every connection of
the pool busy) a request that needs it is answered 503 with Retry-After (a problem, in the
caller's language), not 500 with a traceback; `/readyz` answers 503 meanwhile. The log says so
ONCE when the outage starts (the first failure, in one line) and once when it ends (the first
request, or readiness check, that reaches the database again), not once per request.
"""

from __future__ import annotations

import logging
import time

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backoffice.problems import ApiProblem

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# PostgreSQL's "the server is going away or not there yet": connection exceptions (class 08),
# admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# Failing to get a connection at all: refused, unreachable, timed out, the pool exhausted, the
# server refusing new sessions (asyncpg's errors come through SQLAlchemy's pool unwrapped).
CONNECT_ERRORS = (OSError, TimeoutError, PoolTimeout, asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError)


class DatabaseUnavailable(Exception):
    """No connection to the database could be had for this request."""


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


def is_outage(exc: BaseException) -> bool:
    """Whether a failure means the database is (for now) unreachable, not that the request was bad."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, DBAPIError):
        # SQLAlchemy recognised a lost connection (it then discards the pool's older connections).
        return exc.connection_invalidated or _sqlstate(exc.orig).startswith(_OUTAGE_STATES)
    # Raised by the statements that run on the asyncpg connection itself (the claims list).
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc)
    if isinstance(exc, asyncpg.PostgresError):  # ConnectionDoesNotExistError is class 08
        return _sqlstate(exc).startswith(_OUTAGE_STATES)
    return False


def unavailable() -> ApiProblem:
    return ApiProblem(
        503,
        "unavailable",
        "api.problem.unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        seconds=RETRY_AFTER_SECONDS,
    )


class OutageLog:
    """Logs the start and the end of an outage, once each, in this process."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            cause = exc.__cause__ if isinstance(exc, DatabaseUnavailable) and exc.__cause__ else exc
            reason = str(cause).splitlines()[0] if str(cause) else ""
            log.error(
                "database unavailable (%s%s); answering 503 until it is back",
                type(cause).__name__,
                f": {reason}" if reason else "",
            )

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("database is back after %.1f s", time.monotonic() - self.since)
            self.since = None
