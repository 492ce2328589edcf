"""The `claimdesk` command as a user runs it: clear one-line errors, repeatable migrations, and an
embedded PostgreSQL whose data survives a restart and is shared by a second process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIMDESK = [sys.executable, "-m", "claimdesk"]


def claimdesk(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLAIMDESK, *args], capture_output=True, text=True, input=stdin, cwd=cwd, env=env, timeout=timeout
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TIMEZONE", "TEST_DATABASE_URL")}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "not a url at all", "DATABASE_URL: not a database URL"),
        ("DATABASE_URL", "mysql://root@localhost/claims", "DATABASE_URL: claimdesk needs PostgreSQL"),
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere", "DATABASE_URL: cannot connect to 127.0.0.1:1"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ("BACKOFFICE_PORT", "eighty", "BACKOFFICE_PORT:"),
        ("BOT_MODE", "carrier-pigeon", "BOT_MODE:"),
        ("CLAIMDESK_DB_POOL_SIZE", "many", "CLAIMDESK_DB_POOL_SIZE:"),
        ("CLAIMDESK_DB_POOL_SIZE", "0", "CLAIMDESK_DB_POOL_SIZE:"),
        ("ATTACHMENT_RETENTION_DAYS", "a month", "ATTACHMENT_RETENTION_DAYS:"),
        ("ATTACHMENT_RETENTION_DAYS", "0", "ATTACHMENT_RETENTION_DAYS:"),
        ("CLAIMDESK_DB_COMMAND_TIMEOUT", "soon", "CLAIMDESK_DB_COMMAND_TIMEOUT:"),
        ("CLAIMDESK_DB_CONNECT_TIMEOUT", "0", "CLAIMDESK_DB_CONNECT_TIMEOUT:"),
        ("DATABASE_URL", "postgresql://h/db?connect_timeout=soon", "DATABASE_URL: connect_timeout must be a number"),
        ("BOT_TOKEN", "my bot token", "BOT_TOKEN: not a bot token"),
        ("BOT_TOKEN", "ABC:secret", "BOT_TOKEN: not a bot token"),
        ("BOT_TOKEN", "123456", "BOT_TOKEN: not a bot token"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT:"),
        ("METRICS_PORT", "ninety", "METRICS_PORT:"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    result = claimdesk("migrate", env=clean_env(**{variable: value, "CLAIMDESK_DATA_DIR": str(tmp_path)}), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_migrate_twice_is_a_no_op(database_url: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=database_url)
    first = claimdesk("migrate", env=env, cwd=tmp_path)
    second = claimdesk("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "Running upgrade" not in second.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"claimdesk run exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("claimdesk run did not become ready")


def _postmasters(pgdata: Path) -> int:
    import psutil

    count = 0
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and str(pgdata) in " ".join(cmdline) and "-D" in cmdline:
            count += 1
    return count


@pytest.mark.slow
def test_embedded_postgres_survives_restart_and_is_shared(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = _free_port()
    env = clean_env(CLAIMDESK_DATA_DIR=str(data), BACKOFFICE_PORT=str(port))
    pgdata = (data / "pg").resolve()

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [*CLAIMDESK, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _wait_http(port, proc)
        return proc

    run = start()
    try:
        # A second process on the same data folder joins the running server.
        added = claimdesk(
            "users",
            "add",
            "olga",
            "--role",
            "admin",
            "--password-stdin",
            env=env,
            stdin="long enough password\n",
            cwd=tmp_path,
        )
        assert added.returncode == 0, added.stderr
        assert _postmasters(pgdata) == 1
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0, run.stderr.read() if run.stderr else ""
    # The last process to leave stops the server cleanly.
    deadline = time.monotonic() + 20
    while _postmasters(pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postmasters(pgdata) == 0

    run = start()
    try:
        listed = claimdesk("users", "list", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith("olga\tadmin\tactive")
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) == 0


def test_pool_size_is_read_from_dotenv_like_every_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLAIMDESK_DB_POOL_SIZE goes through Settings: a value in `.env` counts (it used to be read
    from the process environment only)."""
    from shared.settings import Settings

    monkeypatch.delenv("CLAIMDESK_DB_POOL_SIZE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CLAIMDESK_DB_POOL_SIZE=7\n")
    assert Settings().db_pool_size == 7


async def test_run_says_how_to_create_the_first_admin(db, database_url: str, tmp_path: Path, capsys) -> None:
    from claimdesk.cli.run import tell_about_first_admin
    from shared.runtime import Database
    from shared.settings import Settings
    from shared.staff.service import create_user

    settings = Settings(DATABASE_URL=database_url, CLAIMDESK_DATA_DIR=str(tmp_path))
    database = Database(url=database_url, engine=None, sessions=db)  # type: ignore[arg-type]
    await tell_about_first_admin(settings, database)
    assert "claimdesk users add NAME --role admin" in capsys.readouterr().err
    async with db() as session:
        await create_user(session, login="olga", password="correct horse battery", role="admin")
        await session.commit()
    await tell_about_first_admin(settings, database)
    assert "users add" not in capsys.readouterr().err


def test_run_says_where_things_are_and_serves_metrics_on_its_port(database_url: str, tmp_path: Path) -> None:
    """Once at start: the data folder, the database without its password, the logs (here a file,
    so JSON lines); with METRICS_PORT, the process's own counters there."""
    import json
    import urllib.request

    from sqlalchemy.engine import URL, make_url

    backoffice, sandbox, metrics = _free_port(), _free_port(), _free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        CLAIMDESK_DATA_DIR=str(tmp_path / "data"),
        BACKOFFICE_PORT=str(backoffice),
        SANDBOX_PORT=str(sandbox),
        METRICS_PORT=str(metrics),
    )
    env.pop("LOG_FORMAT", None)
    log_path = tmp_path / "desk.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen([*CLAIMDESK, "run"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            _wait_http(backoffice, proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as response:
                exposition = response.read().decode()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    where = [r["message"] for r in records if r["message"].startswith("data folder ")]
    (fields,) = [r for r in records if "data_dir" in r]
    assert (fields["data_dir"], fields["logs"]) == (
        str((tmp_path / "data").resolve()),
        f"standard error ({log_path}), as json",
    )
    database = make_url(database_url)
    shown = URL.create(
        "postgresql", database.username, None, database.host, database.port, database.database, database.query
    )
    assert where == [
        f"data folder {(tmp_path / 'data').resolve()}; database {shown.render_as_string(hide_password=False)}; "
        f"logs on standard error ({log_path}), as json"
    ]
    assert proc.returncode == 0
    for series in ("claimdesk_bot_updates", "claimdesk_claims_registered", "claimdesk_deliveries", "process_resident"):
        assert series in exposition
