"""`claimdesk backup FILE` and `claimdesk restore FILE`: the whole database in one file, with
PostgreSQL's own pg_dump and pg_restore (claimdesk.pg_tools finds those for the server in use:
the embedded one, or the one in DATABASE_URL).

A backup is pg_dump's custom format, written to FILE.part and renamed when complete, so FILE is
never half a backup. A restore REPLACES the database: the file is restored into a new database
beside it, and only when that succeeded are the two swapped (renamed in one transaction) and the
old one dropped; any failure before leaves the database as it was. It needs the desk stopped (no
other connection to the database) and a role allowed to create databases. The schema is brought
up to date afterwards (a backup of an older version is migrated).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from claimdesk.cli import fail
from claimdesk.pg_tools import PgTools, find_tools, libpq_environment, server_major
from shared import migrate
from shared.db import asyncpg_dsn, resolve_database_url
from shared.runtime import StartupError
from shared.settings import get_settings

EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    backup = subparsers.add_parser("backup", help="write the whole database to FILE (pg_dump's custom format)")
    backup.add_argument("file", type=Path, metavar="FILE")
    backup.set_defaults(handler=handle_backup)
    restore = subparsers.add_parser(
        "restore", help="REPLACE the database with the backup in FILE (stop the desk first)"
    )
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.set_defaults(handler=handle_restore)


def _where(url: str) -> str:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database}"


async def _server(url: str) -> tuple[int, PgTools]:
    """The server's major version and the programs for it; StartupError (exit 2) when the server
    cannot be reached or no suitable pg_dump is found."""
    try:
        major = await server_major(url)
    except (OSError, asyncpg.PostgresError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StartupError(f"DATABASE_URL: cannot connect to {_where(url)}: {reason}") from None
    bindir = get_settings().pg_bindir
    tools = find_tools(major, bindir)
    if tools is None:
        where = f"in CLAIMDESK_PG_BINDIR ({bindir})" if bindir else "(set CLAIMDESK_PG_BINDIR to their folder)"
        raise StartupError(f"no pg_dump and pg_restore for PostgreSQL {major} or newer found {where}")
    return major, tools


async def _run(tools: PgTools, name: str, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        tools.program(name),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    return process.returncode or 0, err.decode(errors="replace").strip()


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[0]


async def handle_backup(args: argparse.Namespace) -> int:
    url = await resolve_database_url(get_settings())
    _, tools = await _server(url)
    target: Path = args.file
    if not _folder_exists(target):
        return fail(f"{target}: no such folder: {target.parent}", EXIT_FAILED)
    partial = target.with_name(target.name + ".part")
    code, err = await _run(
        tools,
        "pg_dump",
        ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"],
        libpq_environment(url),
    )
    if code != 0:
        partial.unlink(missing_ok=True)
        return fail(f"backup failed: {_first_error(err)}", EXIT_FAILED)
    size = _complete(partial, target)
    print(f"backed up {_where(url)} to {target} ({size / 1_048_576:.1f} MB, pg_dump {tools.major})", file=sys.stderr)
    return 0


def _complete(partial: Path, target: Path) -> int:
    """The finished backup takes its name (a rename: FILE is never half a backup); its size."""
    partial.replace(target)
    return target.stat().st_size


def _readable(path: Path) -> bool:
    return path.is_file()


def _folder_exists(path: Path) -> bool:
    return path.parent.is_dir()


async def handle_restore(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not _readable(source):
        return fail(f"{source}: no such file", EXIT_FAILED)
    url = await resolve_database_url(get_settings())
    _, tools = await _server(url)
    code, err = await _run(tools, "pg_restore", ["--list", str(source)], libpq_environment(url))
    if code != 0:
        return fail(f"{source} is not a claimdesk backup: {_first_error(err)}", EXIT_FAILED)

    target = make_url(url).database or ""
    fresh = f"{target}_restoring_{uuid.uuid4().hex[:8]}"
    replaced = f"{target}_replaced_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(make_url(url).set(database="postgres").render_as_string(False)))
    try:
        others = await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", target)
        if others:
            return fail(
                f"restore: {others} other connection(s) to the database {target}: stop the desk "
                "(claimdesk run, bot, worker, back-office) first",
                EXIT_FAILED,
            )
        try:
            await admin.execute(f"CREATE DATABASE \"{fresh}\" TEMPLATE template0 ENCODING 'UTF8'")
        except asyncpg.PostgresError as exc:
            return fail(f"restore: cannot create a database to restore into: {exc}", EXIT_FAILED)
        code, err = await _run(
            tools,
            "pg_restore",
            ["--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={fresh}", str(source)],
            libpq_environment(url, database=fresh),
        )
        if code != 0:
            await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
            return fail(f"restore failed, the database is unchanged: {_first_error(err)}", EXIT_FAILED)
        try:
            async with admin.transaction():
                await admin.execute(f'ALTER DATABASE "{target}" RENAME TO "{replaced}"')
                await admin.execute(f'ALTER DATABASE "{fresh}" RENAME TO "{target}"')
        except asyncpg.PostgresError as exc:
            await admin.execute(f'DROP DATABASE IF EXISTS "{fresh}"')
            return fail(f"restore failed, the database is unchanged: {exc}", EXIT_FAILED)
        await admin.execute(f'DROP DATABASE "{replaced}"')
    finally:
        await admin.close()
    await migrate.upgrade(url)
    print(f"restored {_where(url)} from {source}: the database was replaced", file=sys.stderr)
    return 0
