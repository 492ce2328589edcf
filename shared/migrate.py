"""Alembic driven from code: `claimdesk migrate`, the tests and `claimdesk run` all use this."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def _upgrade(database_url: str, revision: str) -> None:
    command.upgrade(alembic_config(database_url), revision)


def _downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop: keep it off ours.
    await asyncio.to_thread(_upgrade, database_url, revision)


async def downgrade(database_url: str, revision: str = "base") -> None:
    await asyncio.to_thread(_downgrade, database_url, revision)
