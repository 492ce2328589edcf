"""Operational endpoints that live in the route table: Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backoffice.api import ApiRoute
from backoffice.keys import registry_key
from shared.enums import Role


async def metrics(request: web.Request) -> web.Response:
    """Request counts and latencies in the Prometheus text format."""
    body = generate_latest(request.app[registry_key])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


routes = [
    ApiRoute("GET", "/metrics", metrics, Role.ADMIN, "Prometheus metrics", content_type="text/plain", tags=("system",)),
]
