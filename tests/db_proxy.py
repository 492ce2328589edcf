"""A TCP forwarder in front of the test PostgreSQL server that a test can cut and restore: a
database outage as the desk's parts see it (connections refused, open ones dropped), without
stopping the server other tests use. It forwards to the server the tests use, over TCP or over
the Unix socket the embedded server listens on (`?host=/dir` in its URL)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url


class DatabaseProxy:
    """Also in front of Redis: `DatabaseProxy("redis://host:port/db")` forwards to host:port, and
    `url` is the Redis URL through the proxy."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        socket_dir = url.query.get("host")
        port = url.port or 5432
        if isinstance(socket_dir, str) and socket_dir.startswith("/"):
            self._socket: str | None = f"{socket_dir}/.s.PGSQL.{port}"
        else:
            self._socket = None
        self.target = (url.host or "127.0.0.1", port)
        self._url = url.difference_update_query(["host"])
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The database URL through the proxy."""
        return self._url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def start(self) -> None:
        """Listen (again, on the same port once one was chosen) and forward."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """The outage: new connections are refused and open ones dropped."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            if self._socket is not None:
                server_reader, server_writer = await asyncio.open_unix_connection(self._socket)
            else:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        self._writers -= {client_writer, server_writer}
