"""Server-sent events for open pages: `/events` sends `claims` for any new claim or message (the
queue); with `?customer_id=` also `customer` for that customer's (a card, a customer page). An
event carries nothing a page shows: it only tells the page which part to fetch again
(htmx `hx-trigger="sse:..."`), and that fetch checks who asks like any page."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from backoffice.web.live import live_key
from backoffice.web.routes import WebRoute

KEEPALIVE = 15.0


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and int(value) < 2**63 else None


async def events(request: web.Request) -> web.StreamResponse:
    customer_id = _int(request.query.get("customer_id"))
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    feed = request.app[live_key]
    queue = feed.subscribe()
    try:
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break
            names = ["claims"]
            if customer_id is not None and event.get("customer_id") == customer_id:
                names.append("customer")
            for name in names:
                await response.write(f"event: {name}\ndata: {event.get('kind', '')}\n\n".encode())
    except ConnectionResetError:
        pass  # the page was closed
    finally:
        feed.unsubscribe(queue)
        with contextlib.suppress(Exception):
            await response.write_eof()
    return response


routes = [WebRoute("GET", "/events", events, streaming=True)]
