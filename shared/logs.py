"""How every part of the desk logs: one handler on standard error, one line per event, as JSON
(python-json-logger) or as plain text for a person at a terminal (LOG_FORMAT), and on every line
logged while an update or a request is handled, its id.

The ids live in context variables, set by the bot's update middleware (`UPDATE_ID`, the Telegram
update id) and the back-office's request middleware (`REQUEST_ID`, X-Request-Id). asyncio copies
the context into every task, so a line logged anywhere below the handler (a service, aiogram,
SQLAlchemy) carries the id without being passed it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["auto", "json", "text"]

UPDATE_ID: ContextVar[int | None] = ContextVar("update_id", default=None)
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"
# The JSON line's own fields, in this order; anything passed with `extra=` follows them.
JSON_FIELDS = ("levelname", "name", "message")
JSON_NAMES = {"levelname": "level", "name": "logger"}

# Libraries that say too much at INFO for a desk handling hundreds of messages a second.
QUIET = ("aiohttp.access", "sqlalchemy.engine", "alembic.runtime.migration", "aiogram.event")


class ContextIds(logging.Filter):
    """Puts the update and request ids of the current context on the record: as fields of their
    own (`update_id`, `request_id`: JSON lines) and as `ids`, their text form (text lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = []
        update_id = UPDATE_ID.get()
        if update_id is not None:
            record.update_id = update_id
            parts.append(f"update={update_id}")
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
            parts.append(f"request={request_id}")
        record.ids = f" [{' '.join(parts)}]" if parts else ""
        return True


def resolve_format(log_format: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """`auto`: text for a person at a terminal, JSON for whatever collects the output (a file, a
    pipe, docker, journald): the same default does the right thing in both places."""
    if log_format != "auto":
        return log_format
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def make_formatter(chosen: Literal["json", "text"]) -> logging.Formatter:
    if chosen == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(
        list(JSON_FIELDS),
        rename_fields=JSON_NAMES,
        timestamp="time",  # ISO 8601, UTC
        reserved_attrs=[*RESERVED_ATTRS, "ids", "taskName"],  # `ids` is the text form of the ids
        json_ensure_ascii=False,  # Russian log lines stay readable
    )


def log_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    """A handler writing to `stream` in `log_format`, the context's ids on each line."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(resolve_format(log_format, stream)))
    handler.addFilter(ContextIds())
    return handler


def configure_logging(log_format: LogFormat = "auto", *, verbose: bool = False, stream: TextIO | None = None) -> None:
    """One handler on `stream` (standard error) for every logger of the process."""
    handler = log_handler(log_format, stream or sys.stderr)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def update_context(update_id: int) -> Iterator[None]:
    """Lines logged inside carry the Telegram update's id."""
    token = UPDATE_ID.set(update_id)
    try:
        yield
    finally:
        UPDATE_ID.reset(token)


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Lines logged inside carry the HTTP request's id."""
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)
