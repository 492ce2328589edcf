"""Where `claimdesk run` keeps things, said once at start: the data folder, the database (its URL
without the password) and the logs, so a person who started it knows where to look."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from shared.logs import resolve_format
from shared.settings import Settings


def database_shown(url: str, *, embedded: bool, data_dir: Path) -> str:
    """The URL as libpq takes it, without the password (and the embedded server's folder)."""
    parsed = make_url(url)
    # Built anew: URL.set(password=None) keeps the password (None means "unchanged" there).
    bare = URL.create("postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query)
    shown = bare.render_as_string(hide_password=False)
    return f"{shown} (embedded, in {data_dir.resolve() / 'pg'})" if embedded else shown


def logs_shown(log_format: str, stream: object = None) -> str:
    """Standard error, and what it is connected to when that can be told (Linux's /proc): a file
    the output was redirected to, or this terminal."""
    stream = stream or sys.stderr
    where = "standard error"
    try:
        target = os.readlink(f"/proc/self/fd/{stream.fileno()}")  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        target = ""
    if target.startswith("/dev/pts/") or target.startswith("/dev/tty"):
        where += " (this terminal)"
    elif target.startswith("/") and not target.startswith("/dev/"):
        where += f" ({target})"
    return f"{where}, as {log_format}"


def locations(settings: Settings, database_url: str) -> tuple[str, dict[str, str]]:
    """The line to log, and the same as fields of their own (JSON lines)."""
    data_dir = settings.data_dir.resolve()
    fields = {
        "data_dir": str(data_dir),
        "database": database_shown(database_url, embedded=settings.database_url is None, data_dir=data_dir),
        "logs": logs_shown(resolve_format(settings.log_format, sys.stderr)),
    }
    return f"data folder {fields['data_dir']}; database {fields['database']}; logs on {fields['logs']}", fields
