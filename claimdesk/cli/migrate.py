from __future__ import annotations

import argparse

from shared import migrate
from shared.runtime import open_database
from shared.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="bring the database schema up to date")
    parser.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    parser.add_argument("--down", action="store_true", help="downgrade to REVISION instead")
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace) -> int:
    async with open_database(get_settings()) as db:
        if args.down:
            await migrate.downgrade(db.url, args.revision)
        else:
            await migrate.upgrade(db.url, args.revision)
    return 0
