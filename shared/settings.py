"""One Settings object, read from the environment and an optional `.env`.

A bad value must stop the program with one line naming the variable (see `settings_error_line`),
so every field carries the environment name it is read from and validators say what is wrong
in words a person configuring the desk understands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The local Bot API emulator (bot/sandbox) stands in for Telegram when BOT_TOKEN is unset.
SANDBOX_TOKEN = "123456:SANDBOX"

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path("./var"), alias="CLAIMDESK_DATA_DIR")

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    telegram_api_base: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_BASE")
    bot_mode: Literal["polling", "webhook"] = Field(default="polling", alias="BOT_MODE")
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    webhook_host: str = Field(default="127.0.0.1", alias="WEBHOOK_HOST")
    webhook_port: int = Field(default=8081, ge=1, le=65535, alias="WEBHOOK_PORT")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    sandbox_port: int = Field(default=8090, ge=1, le=65535, alias="SANDBOX_PORT")
    # The bot's @username (without @): the profile page then offers a deep link that links a staff
    # member's Telegram account in one tap (t.me/<name>?start=link-CODE).
    bot_username: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$", alias="BOT_USERNAME")

    backoffice_host: str = Field(default="127.0.0.1", alias="BACKOFFICE_HOST")
    backoffice_port: int = Field(default=8080, ge=1, le=65535, alias="BACKOFFICE_PORT")
    backoffice_public_url: str | None = Field(default=None, alias="BACKOFFICE_PUBLIC_URL")

    timezone: str = Field(default="Europe/Moscow", alias="TIMEZONE")
    default_language: Language = Field(default="ru", alias="DEFAULT_LANGUAGE")
    currency: str = Field(default="RUB", min_length=3, max_length=3, alias="CURRENCY")

    sla_first_response_hours: int = Field(default=24, ge=1, le=24 * 90, alias="SLA_FIRST_RESPONSE_HOURS")
    sla_resolution_hours: int = Field(default=120, ge=1, le=24 * 365, alias="SLA_RESOLUTION_HOURS")
    auto_close_days: int = Field(default=7, ge=1, le=365, alias="AUTO_CLOSE_DAYS")
    staff_chat_id: int | None = Field(default=None, alias="STAFF_CHAT_ID")

    # Files of claims closed longer ago than this are deleted (unset: kept forever).
    attachment_retention_days: int | None = Field(default=None, ge=1, le=36500, alias="ATTACHMENT_RETENTION_DAYS")

    # Where pg_dump and pg_restore are (`claimdesk backup`/`restore`), when not found on their own.
    pg_bindir: Path | None = Field(default=None, alias="CLAIMDESK_PG_BINDIR")

    # Connections each process keeps open to PostgreSQL (and up to as many more at peaks).
    db_pool_size: int = Field(default=10, ge=1, le=1000, alias="CLAIMDESK_DB_POOL_SIZE")
    # Seconds to open a connection, and that one statement may run (0: no limit); every connection
    # is opened with them (shared.db.connect). Migrations run without the statement limit.
    db_connect_timeout: float = Field(default=10.0, gt=0, le=600, alias="CLAIMDESK_DB_CONNECT_TIMEOUT")
    db_command_timeout: float = Field(default=60.0, ge=0, le=86400, alias="CLAIMDESK_DB_COMMAND_TIMEOUT")

    # Log lines as JSON or plain text; auto: text at a terminal, JSON otherwise (shared/logs.py).
    log_format: Literal["auto", "json", "text"] = Field(default="auto", alias="LOG_FORMAT")
    # Where each process serves its own Prometheus metrics (unset: nowhere but the back-office's
    # /metrics): the bot's and the worker's counters live in their own processes.
    metrics_host: str = Field(default="127.0.0.1", alias="METRICS_HOST")
    metrics_port: int | None = Field(default=None, ge=1, le=65535, alias="METRICS_PORT")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError("not a database URL (expected postgresql://user@host:port/dbname)") from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"claimdesk needs PostgreSQL, got '{url.get_backend_name()}'")
        if url.get_driver_name() not in ("asyncpg", "psycopg2", "psycopg", "") and "+" in url.drivername:
            raise ValueError(f"unsupported driver '{url.get_driver_name()}' (use postgresql://)")
        try:
            float(url.query.get("connect_timeout", 0))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError("connect_timeout must be a number of seconds") from None
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _bot_token(cls, value: object) -> object:
        """The shape of a token @BotFather gives: digits (the bot's id), a colon, a secret, no spaces
        (aiogram's own check, made here so that it is one line naming the variable)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None  # unset: the local sandbox
        if not isinstance(value, str):
            return value  # pydantic says what is wrong with it
        bot_id, colon, secret = value.partition(":")
        if not (colon and bot_id.isdigit() and secret) or any(c.isspace() for c in value):
            raise ValueError("not a bot token (expected digits, a colon and the secret, as @BotFather gives it)")
        return value

    @field_validator("attachment_retention_days", "pg_bindir", "metrics_port", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (expected an IANA name like Europe/Moscow)") from None
        return value

    @field_validator("telegram_api_base", "webhook_url", "backoffice_public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value.rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def bot_api(self) -> BotApi:
        """Where the desk's Bot API calls go: Telegram (or TELEGRAM_API_BASE) with BOT_TOKEN, else
        the local sandbox emulator that `claimdesk run` starts on SANDBOX_PORT."""
        if self.bot_token is not None:
            return BotApi(self.telegram_api_base, self.bot_token.get_secret_value(), sandbox=False)
        return BotApi(f"http://127.0.0.1:{self.sandbox_port}", SANDBOX_TOKEN, sandbox=True)


@dataclass(frozen=True, slots=True)
class BotApi:
    base: str
    token: str = field(repr=False)
    sandbox: bool


def settings_error_line(error: ValidationError) -> str:
    """The one line shown for a bad configuration: the variable, then what is wrong with it."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "configuration"
    message = first["msg"].removeprefix("Value error, ")
    name = Settings.model_fields[field].alias if field in Settings.model_fields else field
    return f"claimdesk: {name or field.upper()}: {message}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
