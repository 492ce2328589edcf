"""`claimdesk bot`: the customers' Telegram bot alone (long polling or webhook, per BOT_MODE).

Without BOT_TOKEN it starts the local Bot API emulator as a sandbox and logs its page's address.
"""

from __future__ import annotations

import argparse

from claimdesk.cli.run import run_parts
from shared.runtime import open_database
from shared.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bot", help="run the customers' Telegram bot alone")
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace) -> int:
    from bot.app import serve

    settings = get_settings()
    async with open_database(settings, wait=True) as db:
        await run_parts(settings, db, [("bot", serve)])
    return 0
