"""SANDBOX_PORT taken: `claimdesk run` and `claimdesk bot` stop with one line and exit 2, instead of
moving the sandbox to another port while the delivery worker keeps sending to SANDBOX_PORT."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli import claimdesk, clean_env


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as other:  # something else listens there
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", ["run", "bot"])
def test_taken_sandbox_port_is_one_line_and_exit_2(
    database_url: str, tmp_path: Path, taken_port: int, command: str
) -> None:
    env = clean_env(DATABASE_URL=database_url, SANDBOX_PORT=str(taken_port), BACKOFFICE_PORT=str(_free_port()))
    env.pop("BOT_TOKEN", None)
    result = claimdesk(command, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [
        f"claimdesk: SANDBOX_PORT: cannot listen on 127.0.0.1:{taken_port} for the Telegram sandbox: "
        "Address already in use"
    ], result.stderr
