"""The request's id: the caller's `X-Request-Id` when it is a sane token (a proxy or a client that
correlates its own logs), else a new one; on every line logged while the request is handled
(`shared.logs.REQUEST_ID`) and echoed in the answer's `X-Request-Id`, so a staff member reporting
a failure can quote it and an operator find its lines.

A caller's id is taken only if it is short and made of letters, digits and `-_.:`: anything else
could forge or break log lines, and is replaced (not refused: the id is for us, not a check).
"""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from shared.logs import request_context

HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(request: web.Request) -> str:
    given = request.headers.get(HEADER, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    request_id = request[REQUEST_ID] = request_id_of(request)
    with request_context(request_id):
        return await handler(request)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer as it is prepared (streamed ones and aiohttp's own errors included)."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[HEADER] = request_id
