"""uvicorn's httptools protocol, writing each response in one send to the socket.

uvicorn writes a response's head and its body separately, each straight to the socket: two system calls and two
TCP segments for every answer, where a restriction check's whole response is a few hundred bytes. Here the
connection's transport gathers what is written during one turn of the event loop and sends it at the end of
that turn, so an ASGI app that sends its head and body without waiting in between (every plain response does)
costs one send. Nothing is held longer than the current turn, and closing the transport sends what is gathered
first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _GatheringTransport:
    """A transport that joins the writes of one event-loop turn; everything else is the socket's transport."""

    __slots__ = ("_gathered", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._gathered: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._gathered:
            self._loop.call_soon(self._send)
        self._gathered.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _send(self) -> None:
        gathered, self._gathered = self._gathered, []
        if gathered and not self._transport.is_closing():
            self._transport.write(gathered[0] if len(gathered) == 1 else b"".join(gathered))

    def close(self) -> None:
        self._send()
        self._transport.close()

    def write_eof(self) -> None:
        self._send()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._gathered))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheringHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering: Any = _GatheringTransport(transport, self.loop)
        super().connection_made(gathering)
