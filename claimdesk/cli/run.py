"""`claimdesk run`: migrate, then run every part of the desk in one process until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

from claimdesk.locations import locations
from claimdesk.metrics_endpoint import metrics_parts
from shared import migrate
from shared.runtime import Database, StartupError, open_database
from shared.settings import Settings, get_settings
from shared.staff.service import has_staff_users

log = logging.getLogger("claimdesk")

Part = Callable[[Settings, Database, asyncio.Event], Awaitable[None]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="migrate, then run the back-office, the bot and the worker")
    parser.add_argument("--no-migrate", action="store_true", help="skip migrations")
    parser.set_defaults(handler=handle)


def parts() -> list[tuple[str, Part]]:
    # Imported on use: every sub-command's module is imported to build the parser, and the small
    # ones (users, migrate) should not pay for aiogram and the web app.
    from backoffice.server import serve as serve_backoffice
    from bot.app import serve as serve_bot
    from bot.delivery import run_worker

    # The bot: with no BOT_TOKEN it talks to a local sandbox emulator (its page URL is logged).
    return [("back-office", serve_backoffice), ("bot", serve_bot), ("worker", run_worker)]


async def run_parts(settings: Settings, db: Database, selected: list[tuple[str, Part]]) -> None:
    """Run the parts side by side; the first to fail, or a signal, stops them all."""
    selected = [*selected, *metrics_parts(settings)]  # METRICS_PORT: this process's own /metrics
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(part(settings, db, stop), name=name) for name, part in selected]
    try:
        done, _ = await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in tasks:
            if task in done and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")


def check_sandbox_port(settings: Settings) -> None:
    """Without BOT_TOKEN the bot part serves the sandbox on SANDBOX_PORT (the bot part says so too,
    if the port is taken later): checked before any part starts, so the person sees that one line,
    not the other parts starting and stopping."""
    if not settings.bot_api.sandbox:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            probe.bind(("127.0.0.1", settings.sandbox_port))
        except OSError as exc:
            raise StartupError(
                f"SANDBOX_PORT: cannot listen on 127.0.0.1:{settings.sandbox_port} for the Telegram sandbox: "
                f"{exc.strerror or exc}"
            ) from None


FIRST_ADMIN_HINT = (
    "no staff user yet: create the first admin with `claimdesk users add NAME --role admin`, then sign in at %s"
)


async def tell_about_first_admin(settings: Settings, db: Database) -> None:
    """An empty desk cannot be signed in to: say the one command that fixes it (the page at `/` says it too)."""
    async with db.sessions() as session:
        if await has_staff_users(session):
            return
    url = settings.backoffice_public_url or f"http://{settings.backoffice_host}:{settings.backoffice_port}"
    log.warning(FIRST_ADMIN_HINT, url + "/")
    print("claimdesk: " + FIRST_ADMIN_HINT % (url + "/"), file=sys.stderr)


async def handle(args: argparse.Namespace) -> int:
    settings = get_settings()
    check_sandbox_port(settings)
    async with open_database(settings) as db:
        where, fields = locations(settings, db.url)
        log.info("%s", where, extra=fields)  # once: where the data, the database and the logs are
        if not args.no_migrate:
            await migrate.upgrade(db.url)
        await tell_about_first_admin(settings, db)
        await run_parts(settings, db, parts())
    return 0
