"""Operational endpoints that live in the route table: Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from backoffice.api import ApiRoute
from backoffice.context import ctx
from backoffice.keys import registry_key
from shared.enums import Role
from shared.metrics import exposition


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text: this process's request counts and latencies and its other counters
    (in `claimdesk run`, the bot's and the worker's too), and the outbox's backlog, read now."""
    body = await exposition(ctx(request).session, request.app[registry_key])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


routes = [
    ApiRoute("GET", "/metrics", metrics, Role.ADMIN, "Prometheus metrics", content_type="text/plain", tags=("system",)),
]
