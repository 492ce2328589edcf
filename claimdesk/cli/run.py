"""`claimdesk run`: migrate, then run every part of the desk in one process until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable

from claimdesk.locations import locations
from claimdesk.metrics_endpoint import metrics_parts
from shared import migrate
from shared.outage import first_line, is_outage
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


# A part that failed is started again after a pause growing from 1 s to a minute; one that ran
# for HEALTHY_AFTER seconds before failing starts again from the shortest pause.
RESTART_FIRST = 1.0
RESTART_MAX = 60.0
HEALTHY_AFTER = 60.0


def restart_delay(failures: int) -> float:
    return min(RESTART_MAX, RESTART_FIRST * 2 ** max(0, failures - 1))


async def supervise(name: str, part: Part, settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """Run one part until `stop`, starting it again when it fails.

    Why restart rather than end the process: the parts are independent (customers can write to
    the bot while the back-office is down, and the other way round), and what makes one fail at
    run time (a database or network outage it did not ride out, a bug met by one input) passes;
    a supervisor outside (systemd, Docker) would restart everything, dropping the healthy parts'
    work in hand. A `StartupError` is different: a setting to fix (a port taken, a token Telegram
    refuses) that no restart cures: it ends the whole process with its one line, exit 2.
    """
    loop = asyncio.get_running_loop()
    failures = 0
    while not stop.is_set():
        started = loop.time()
        try:
            await part(settings, db, stop)
        except StartupError:
            raise
        except Exception as exc:
            if stop.is_set():
                log.warning("%s: failed while stopping: %s", name, first_line(exc))
                return
            failures = 1 if loop.time() - started >= HEALTHY_AFTER else failures + 1
            delay = restart_delay(failures)
            # An outage is expected and said in one line; anything else gets its traceback once.
            log.error(
                "%s stopped (%s); starting it again in %.0f s",
                name,
                first_line(exc),
                delay,
                exc_info=None if is_outage(exc) else exc,
            )
        else:
            if stop.is_set():
                return
            failures += 1
            delay = restart_delay(failures)
            log.error("%s ended on its own; starting it again in %.0f s", name, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def run_parts(settings: Settings, db: Database, selected: list[tuple[str, Part]]) -> None:
    """Run the parts side by side until a signal, each under `supervise` (a failed part is started
    again, the others go on); a StartupError in any part stops them all and is raised."""
    selected = [*selected, *metrics_parts(settings)]  # METRICS_PORT: this process's own /metrics
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(supervise(name, part, settings, db, stop), name=name) for name, part in selected]
    try:
        await asyncio.wait([*tasks, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        # Every part stops on `stop` (the requests and updates in hand finish); then the first
        # StartupError, if a part ended with one, is the process's one line.
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                raise result
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
    async with open_database(settings, wait=True) as db:
        where, fields = locations(settings, db.url)
        log.info("%s", where, extra=fields)  # once: where the data, the database and the logs are
        if not args.no_migrate:
            await migrate.upgrade(db.url)
        await tell_about_first_admin(settings, db)
        await run_parts(settings, db, parts())
    return 0
