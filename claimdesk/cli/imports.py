"""`claimdesk import claims FILE.csv`: check every row, then import the whole file in one
transaction, or nothing (exit 1, every bad row listed with its line and column)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from claimdesk.cli import fail
from shared import migrate
from shared.actors import SYSTEM
from shared.exchange import ImportRejected, import_claims
from shared.runtime import open_database
from shared.settings import get_settings

EXIT_REJECTED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="import data from files")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    claims = kinds.add_parser("claims", help="import claims from a CSV file (UTF-8 or cp1251, ',' or ';')")
    claims.add_argument("file", type=Path, help="the CSV file; the header row names the columns")
    claims.set_defaults(handler=handle_claims)


class _Bar:
    """A progress bar per phase on a terminal; silent when stderr is not one (tqdm's disable=None)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase = phase
            label = "checking lines" if phase == "check" else "writing claims"
            self.bar = tqdm(
                total=total,
                desc=label,
                unit=" rows" if phase == "write" else " lines",
                disable=None,
                file=sys.stderr,
                leave=False,
            )
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


async def handle_claims(args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        return fail(f"{args.file}: {exc.strerror or exc}", EXIT_REJECTED)
    settings = get_settings()
    bar = _Bar()
    started = time.perf_counter()
    async with open_database(settings) as db:
        await migrate.upgrade(db.url)
        async with db.sessions() as session:
            try:
                summary = await import_claims(session, data=data, actor=SYSTEM, tz=settings.tz, progress=bar)
            except ImportRejected as exc:
                bar.close()
                await session.rollback()
                for error in exc.errors:
                    where = f"line {error.line}" + (f", column {error.column}" if error.column else "")
                    print(f"{args.file}: {where}: {error.reason()}", file=sys.stderr)
                print(f"nothing imported: {len(exc.errors)} problem(s)", file=sys.stderr)
                return EXIT_REJECTED
            await session.commit()
    bar.close()
    elapsed = time.perf_counter() - started
    print(
        f"imported {summary.claims} claims, {summary.customers} new customers, {summary.departments} new "
        f"departments, {summary.employees} new employees, {summary.reasons} new reasons "
        f"({summary.encoding}, '{summary.delimiter}', {elapsed:.1f} s)"
    )
    return 0
