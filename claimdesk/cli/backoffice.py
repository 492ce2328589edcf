"""`claimdesk backoffice`: the back-office alone (to scale it out behind a load balancer)."""

from __future__ import annotations

import argparse

from claimdesk.cli.run import run_parts
from shared.runtime import open_database
from shared.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backoffice", help="run the back-office HTTP server alone")
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace) -> int:
    from backoffice.server import serve

    settings = get_settings()
    async with open_database(settings, wait=True) as db:
        await run_parts(settings, db, [("back-office", serve)])
    return 0
