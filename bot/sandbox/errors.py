"""Errors as the Bot API reports them: an HTTP status and Telegram's own description.

Descriptions are Telegram's exact texts, because bots match on them. Most come from TDLib, whose
first letter the Bot API server lower-cases; the constants here leave out the ``Bad Request: `` or
``Forbidden: `` that :func:`bad` and :func:`forbidden` put before them.
"""

from __future__ import annotations

from bot.sandbox.protocol import JSON

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
WRONG_FILE = "wrong file identifier/HTTP URL specified"
CHAT_NOT_FOUND = "chat not found"
THREAD_NOT_FOUND = "message thread not found"
TOPIC_CLOSED = "TOPIC_CLOSED"
BLOCKED = "bot was blocked by the user"
DEACTIVATED = "user is deactivated"


class ApiError(Exception):
    """A failed Bot API call: ``{"ok": false, "error_code": code, "description": description}``."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad(description: str) -> ApiError:
    """400 with ``Bad Request: `` before the description, as Telegram writes it."""
    return ApiError(400, f"Bad Request: {description}")


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
