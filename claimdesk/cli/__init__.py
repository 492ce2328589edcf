"""The `claimdesk` command. Each sub-command lives in its own module of this package and registers
itself through `register(subparsers)`; add a module to COMMANDS to add a command."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError

from shared.logs import configure_logging
from shared.runtime import StartupError
from shared.settings import get_settings, settings_error_line

COMMANDS = (
    "claimdesk.cli.run",
    "claimdesk.cli.migrate",
    "claimdesk.cli.users",
    "claimdesk.cli.tokens",
    "claimdesk.cli.demo",
    "claimdesk.cli.imports",
    "claimdesk.cli.customers",
    "claimdesk.cli.backup",
    "claimdesk.cli.worker",
    "claimdesk.cli.bot",
    "claimdesk.cli.backoffice",
)

EXIT_CONFIG = 2

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int | None]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claimdesk", description="Customer-claims desk")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def fail(message: str, code: int = EXIT_CONFIG) -> int:
    print(f"claimdesk: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(settings_error_line(exc), file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_format, verbose=args.verbose)
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args)) or 0
    except StartupError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
