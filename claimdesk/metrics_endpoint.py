"""Each process's own Prometheus endpoint, on METRICS_HOST:METRICS_PORT when METRICS_PORT is set.

The bot's and the worker's counters (shared.metrics) live in their processes; when they run as
processes of their own (`claimdesk bot`, `claimdesk worker`, one container each) nothing else can
show them, so each serves its default registry with prometheus_client's own server
(`start_http_server`, a thread: scrapes never wait for the event loop). The outbox's backlog is
read from the database by the back-office's `/metrics`, not here: it is one figure for the desk,
whichever process is asked. No sign-in: bind it where only Prometheus reaches (the default is
127.0.0.1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import start_http_server

from shared.runtime import Database, StartupError
from shared.settings import Settings

log = logging.getLogger("claimdesk")


async def serve_metrics(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    assert settings.metrics_port is not None
    try:
        server, thread = start_http_server(settings.metrics_port, addr=settings.metrics_host)
    except OSError as exc:
        raise StartupError(
            f"METRICS_PORT: cannot listen on {settings.metrics_host}:{settings.metrics_port}: {exc.strerror or exc}"
        ) from None
    log.info("metrics at http://%s:%s/metrics", settings.metrics_host, server.server_port)
    try:
        await stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def metrics_parts(
    settings: Settings,
) -> list[tuple[str, Callable[[Settings, Database, asyncio.Event], Awaitable[None]]]]:
    """The endpoint as a part of the process, when METRICS_PORT asks for it."""
    return [("metrics", serve_metrics)] if settings.metrics_port is not None else []
