"""Serving the back-office inside `claimdesk run` (and alone)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from backoffice.app import create_app
from shared.runtime import Database, StartupError
from shared.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    runner = web.AppRunner(create_app(settings, db), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.backoffice_host, settings.backoffice_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(
            f"BACKOFFICE_PORT: cannot listen on {settings.backoffice_host}:{settings.backoffice_port}: "
            f"{exc.strerror or exc}"
        ) from None
    log.info("back-office listening on http://%s:%s", settings.backoffice_host, settings.backoffice_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
