"""Log lines: one JSON object a line carrying the update's or the request's id, or plain text for a
person at a terminal (LOG_FORMAT, auto by default); the location line of `claimdesk run`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from claimdesk.locations import database_shown, logs_shown
from shared.logs import log_handler, request_context, resolve_format, update_context
from shared.settings import Settings, settings_error_line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("tests.logs")
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    log.handlers.clear()
    log.propagate = True


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_update_and_request_ids(logger: logging.Logger) -> None:
    out = io.StringIO()
    logger.addHandler(log_handler("json", out))
    with update_context(123456789):
        logger.info("stored «%s»", "привет", extra={"claim_id": 7})
    with request_context("req-1"):
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            logger.exception("failed")
    logger.warning("outside")
    first, second, third = (json.loads(line) for line in lines(out))  # one line per event, tracebacks included
    assert first["update_id"] == 123456789 and "request_id" not in first
    assert first["message"] == "stored «привет»" and first["claim_id"] == 7
    assert first["level"] == "INFO" and first["logger"] == "tests.logs" and first["time"].endswith("+00:00")
    assert second["request_id"] == "req-1" and "update_id" not in second
    assert "RuntimeError: boom" in second["exc_info"]
    assert "update_id" not in third and "request_id" not in third and "ids" not in third


def test_auto_is_text_at_a_terminal_and_json_elsewhere(logger: logging.Logger) -> None:
    terminal, pipe = Terminal(), io.StringIO()
    assert (resolve_format("auto", terminal), resolve_format("auto", pipe)) == ("text", "json")
    assert resolve_format("json", terminal) == "json" and resolve_format("text", pipe) == "text"
    logger.addHandler(log_handler("auto", terminal))
    logger.addHandler(log_handler("auto", pipe))
    with update_context(42), request_context("abc"):
        logger.info("hello")
    (text,) = lines(terminal)
    assert text.endswith(" INFO tests.logs [update=42 request=abc]: hello")
    assert json.loads(lines(pipe)[0])["update_id"] == 42


def test_log_format_setting_is_checked() -> None:
    assert Settings(LOG_FORMAT="text").log_format == "text"
    with pytest.raises(ValidationError) as caught:
        Settings(LOG_FORMAT="xml")
    assert settings_error_line(caught.value).startswith("claimdesk: LOG_FORMAT:")


def test_locations_hide_the_password_and_name_the_log_file(tmp_path: Path) -> None:
    shown = database_shown(
        "postgresql+asyncpg://desk:s3cret@db:5432/claims?sslmode=require", embedded=False, data_dir=tmp_path
    )
    assert shown == "postgresql://desk@db:5432/claims?sslmode=require"
    embedded = database_shown(
        "postgresql+asyncpg://postgres@localhost:5433/claimdesk", embedded=True, data_dir=tmp_path
    )
    assert embedded.endswith(f"(embedded, in {tmp_path.resolve() / 'pg'})")
    with (tmp_path / "desk.log").open("w") as log_file:
        assert logs_shown("json", log_file) == f"standard error ({tmp_path / 'desk.log'}), as json"
