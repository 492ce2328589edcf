"""Alembic environment, async: the URL comes from `claimdesk migrate` (shared/migrate.py) or, for the
bare `alembic` command, from DATABASE_URL / the embedded server."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from alembic import context
from sqlalchemy.engine import Connection

import shared.models  # noqa: F401  (registers every table on the metadata)
from shared.db import Base, DatabaseConfig, create_engine
from shared.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        include_object=_include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    # The desk's connection settings (SSL, timeouts), without the statement limit: a migration
    # that rewrites the claim table takes about a minute per million claims.
    config = replace(DatabaseConfig.from_settings(get_settings(), url), pool_size=1, command_timeout=None)
    engine = create_engine(config)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from shared.db import resolve_database_url

    return asyncio.run(resolve_database_url(get_settings()))


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_async(_url()))
