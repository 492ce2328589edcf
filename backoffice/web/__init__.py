"""The staff web pages: server-rendered with aiohttp-jinja2 over the same services as the API
(views call `shared/` directly, never the HTTP API), htmx for partial updates (vendored under
static/js with its licence), texts from the `web.*` keys of the catalogs.

`setup_web(app)` adds the templates, the static files and the page routes to the back-office app;
`web_middleware` (backoffice/web/middleware.py) serves those routes."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from backoffice.keys import db_key
from backoffice.web.live import LiveFeed, close_live_feed, live_key
from backoffice.web.middleware import page_cache_headers, web_middleware, web_routes_key
from backoffice.web.routes import WebRoute, all_web_routes
from shared.db import asyncpg_dsn

__all__ = ["setup_web", "web_middleware"]

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"


def setup_web(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is HTML-escaped unless a template says otherwise (none does)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.router.add_static("/static", STATIC_DIR)
    table: dict[tuple[str, str], WebRoute] = {}
    for route in all_web_routes():
        resource_route = app.router.add_route(route.method, route.path, route.handler)
        table[(route.method, resource_route.resource.canonical)] = route
    app[web_routes_key] = table
    app.on_response_prepare.append(page_cache_headers)
    app[live_key] = LiveFeed(asyncpg_dsn(app[db_key].url))
    app.on_shutdown.append(close_live_feed)
