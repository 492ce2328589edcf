from __future__ import annotations

import argparse
import sys

from shared import migrate
from shared.demo import load_demo
from shared.runtime import open_database
from shared.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="load the Russian demo data set (once)")
    parser.add_argument("--claims", type=int, default=500, help="how many claims (default 500)")
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace) -> int:
    async with open_database(get_settings()) as db:
        await migrate.upgrade(db.url)
        async with db.sessions() as session:
            summary = await load_demo(session, claims=args.claims)
            await session.commit()
    if summary.loaded:
        print(f"demo data loaded: {summary.claims} claims, {summary.customers} customers", file=sys.stderr)
    else:
        print("demo data is already loaded; nothing to do", file=sys.stderr)
    return 0
