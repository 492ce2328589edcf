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
from shared.outage import is_outage as shared_is_outage

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Failing to get a connection at all: refused, unreachable, timed out, the pool exhausted, the
# server refusing new sessions (asyncpg's errors come through SQLAlchemy's pool unwrapped).
CONNECT_ERRORS = (OSError, TimeoutError, PoolTimeout, asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError)


class DatabaseUnavailable(Exception):
    """No connection to the database could be had for this request."""


def is_outage(exc: BaseException) -> bool:
    """Whether a failure means the database is (for now) unreachable, not that the request was bad."""
    return isinstance(exc, DatabaseUnavailable) or shared_is_outage(exc)


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
