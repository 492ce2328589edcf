"""The back-office aiohttp application factory."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from shared.runtime import Database
from shared.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_key = web.AppKey("db", Database)


async def healthz(request: web.Request) -> web.Response:
    """The process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers."""
    db = request.app[db_key]
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the body
        return web.json_response({"status": "unavailable", "detail": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, db: Database) -> web.Application:
    app = web.Application(client_max_size=20 * 1024 * 1024)
    app[settings_key] = settings
    app[db_key] = db
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
