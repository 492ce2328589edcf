"""`claimdesk run` rides out a database outage (issue 13, fix 1): away at start and away later,
the process keeps running, /readyz answers 503 meanwhile, the parts say so once and go on by
themselves; a part that fails is started again; a bad BOT_TOKEN is one line, exit 2 (fix 8).

The process is the real entry point (`python -m claimdesk run`); the outage is the TCP proxy of
tests/db_proxy.py in front of the test database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.sandbox import BotApiEmulator
from claimdesk.cli import run as run_module
from shared.runtime import StartupError
from tests.db_proxy import DatabaseProxy
from tests.test_cli import _free_port, clean_env

# The parts below take no settings; run_parts reads only whether this process serves /metrics.
NO_METRICS = SimpleNamespace(metrics_port=None)


def _ready(port: int) -> int | None:
    """/readyz's status, None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


async def _until_ready(port: int, status: int, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        assert proc.returncode is None, "claimdesk run ended"
        if await asyncio.to_thread(_ready, port) == status:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"/readyz did not answer {status} in {timeout} s")


@contextlib.asynccontextmanager
async def claimdesk(*args: str, env: dict[str, str], cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claimdesk", *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 30)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_waits_for_the_database_at_start_and_rides_out_an_outage_later(
    database_url: str, tmp_path: Path
) -> None:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    await proxy.cut()  # away before the process starts
    port, sandbox = _free_port(), _free_port()
    env = clean_env(
        DATABASE_URL=proxy.url,
        CLAIMDESK_DATA_DIR=str(tmp_path),
        BACKOFFICE_PORT=str(port),
        SANDBOX_PORT=str(sandbox),
        CLAIMDESK_DB_POOL_SIZE="2",
        CLAIMDESK_DB_CONNECT_TIMEOUT="2",
    )
    env.pop("BOT_TOKEN", None)
    async with claimdesk("run", "--no-migrate", env=env, cwd=tmp_path) as proc:
        await asyncio.sleep(4)
        assert proc.returncode is None, "claimdesk run ended while the database was away"
        await proxy.start()
        await _until_ready(port, 200, proc)
        await asyncio.sleep(2)  # the worker takes its sending lock
        await proxy.cut()
        await _until_ready(port, 503, proc, timeout=20)
        await asyncio.sleep(3)
        await proxy.start()
        await _until_ready(port, 200, proc)
        await asyncio.sleep(6)  # the worker takes its lock again
        assert proc.returncode is None
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    await proxy.cut()
    log = err.decode()
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    # The worker took its lock twice: at start, and again after the outage dropped it.
    assert log.count("delivery worker: sending for bot") == 2, log
    assert "lost the sending lock" in log
    # Each part said it once per outage, not once per request, update or poll.
    for part in ("delivery worker:", "DATABASE_URL"):
        lines = [line for line in log.splitlines() if part in line and "database unavailable" in line]
        assert len(lines) <= 2, lines


async def test_a_part_that_fails_is_started_again_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(run_module, "RESTART_FIRST", 0.05)
    caplog.set_level(logging.INFO, logger="claimdesk")
    runs = {"flaky": 0, "steady": 0}

    async def flaky(settings, db, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise RuntimeError("a bug met once")
        await stop.wait()

    async def steady(settings, db, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
        runs["steady"] += 1
        await stop.wait()

    task = asyncio.create_task(run_module.run_parts(NO_METRICS, None, [("flaky", flaky), ("steady", steady)]))  # type: ignore[arg-type]
    for _ in range(100):
        if runs["flaky"] == 3:
            break
        await asyncio.sleep(0.05)
    assert not task.done()
    signal.raise_signal(signal.SIGTERM)
    await asyncio.wait_for(task, 5)
    assert runs == {"flaky": 3, "steady": 1}
    assert (
        sum("flaky stopped (RuntimeError: a bug met once); starting it again" in r.getMessage() for r in caplog.records)
        == 2
    )


async def test_a_startup_error_in_one_part_ends_them_all() -> None:
    stopped = asyncio.Event()

    async def broken(settings, db, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.1)
        raise StartupError("BACKOFFICE_PORT: cannot listen")

    async def steady(settings, db, stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
        await stop.wait()
        stopped.set()  # told to stop, and finished what it had in hand

    with pytest.raises(StartupError, match="BACKOFFICE_PORT"):
        await asyncio.wait_for(run_module.run_parts(NO_METRICS, None, [("b", broken), ("s", steady)]), 5)  # type: ignore[arg-type]
    assert stopped.is_set()


@pytest.mark.parametrize("command", ["bot", "worker"])
async def test_a_token_telegram_refuses_is_one_line_and_exit_2(database_url: str, tmp_path: Path, command: str) -> None:
    emulator = BotApiEmulator(token="123456:the-right-one", sandbox_ui=False)
    await emulator.start()
    env = clean_env(
        DATABASE_URL=database_url,
        CLAIMDESK_DATA_DIR=str(tmp_path),
        BOT_TOKEN="123456:a-token-telegram-does-not-know",
        TELEGRAM_API_BASE=emulator.base_url,
        WEBHOOK_PORT=str(_free_port()),
    )
    try:
        async with claimdesk(command, env=env, cwd=tmp_path) as proc:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await emulator.stop()
    lines = [line for line in err.decode().splitlines() if line.startswith("claimdesk:")]
    assert proc.returncode == 2, err.decode()
    assert "Traceback" not in err.decode()
    assert len(lines) == 1 and lines[0].startswith("claimdesk: BOT_TOKEN: Telegram refused the token"), err.decode()
