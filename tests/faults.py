"""A database outage on demand: a TCP gate between the app and the test PostgreSQL.

Closing the gate stops accepting connections and resets the open ones, which is what the app sees when
PostgreSQL stops or restarts; opening it lets connections through again. It runs its own event loop in a thread,
so that an app in a subprocess, or a test that blocks, still gets its bytes forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import make_url


class TcpGate:
    def __init__(self, host: str, port: int) -> None:
        """``host`` a name or address, or the directory of PostgreSQL's Unix socket (as libpq takes it)."""
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-gate", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def __enter__(self) -> TcpGate:
        self._thread.start()
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def url_for(self, database_url: str) -> str:
        """``database_url`` reached through the gate."""
        url = make_url(database_url)
        query = {k: v for k, v in url.query.items() if k != "host"}
        return url.set(host="127.0.0.1", port=self.port, query=query).render_as_string(hide_password=False)

    def open(self) -> None:
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            transport: Any = writer.transport
            transport.abort()  # a reset, as from a server that went away, not a polite FIN
        self._writers.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self._host.startswith("/"):
                path = f"{self._host}/.s.PGSQL.{self._port}"
                up_reader, up_writer = await asyncio.open_unix_connection(path)
            else:
                up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers -= {writer, up_writer}


@contextlib.contextmanager
def gate_to(database_url: str) -> Iterator[TcpGate]:
    """A gate in front of the PostgreSQL that ``database_url`` names."""
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    host = socket_dir if isinstance(socket_dir, str) else url.host or "127.0.0.1"
    with TcpGate(host, url.port or 5432) as gate:
        yield gate
