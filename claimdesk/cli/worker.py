"""`claimdesk worker`: the delivery worker (outbox -> Telegram) and the sweeper, alone."""

from __future__ import annotations

import argparse

from shared.runtime import open_database
from shared.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="deliver queued messages to Telegram (and run the sweeper)")
    parser.add_argument("--lease-seconds", type=float, default=60.0, help="how long a taken message is held")
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second in total (Telegram: 30)")
    parser.add_argument("--max-in-flight", type=int, default=64, help="messages being sent at once")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between polls when no NOTIFY arrives")
    parser.add_argument("--no-sweep", action="store_true", help="do not run auto-close / reminders / alerts")
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace) -> int:
    # Imported on use, as in claimdesk.cli.run: small sub-commands do not load aiogram.
    from bot.delivery import WorkerConfig, run_worker
    from claimdesk.cli.run import run_parts

    settings = get_settings()
    config = WorkerConfig(
        lease_seconds=args.lease_seconds,
        total_per_second=args.rate,
        max_in_flight=args.max_in_flight,
        poll_interval=args.poll,
        files_dir=settings.data_dir / "files",
    )

    async def part(settings, db, stop):  # type: ignore[no-untyped-def]
        await run_worker(settings, db, stop, config=config, sweep=not args.no_sweep)

    async with open_database(settings, wait=True) as db:
        await run_parts(settings, db, [("worker", part)])
    return 0
