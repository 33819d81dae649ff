"""api.http_protocol: uvicorn's protocol sending a response's head and body in one write, over a real socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn

from api.http_protocol import GatheringHttpToolsProtocol, _GatheringTransport

BODY = b'{"data":{"subject":null}}'


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["path"] == "/stream":
        # Parts apart in time go apart: the second is written only after the first was sent.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"second", "more_body": False})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    # A socket already listening: connections queue in the kernel until the server accepts them.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    config = uvicorn.Config(_app, http=GatheringHttpToolsProtocol, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    yield int(listening.getsockname()[1])
    server.should_exit = True
    await task
    listening.close()


async def _exchange(port: int, request: bytes, *, complete: Callable[[bytes], bool]) -> list[bytes]:
    """The reads of the answer to ``request`` on one connection, as they came, until ``complete`` holds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    reads: list[bytes] = []
    async with asyncio.timeout(10):
        while not complete(b"".join(reads)):
            data = await reader.read(65536)
            assert data, b"".join(reads)
            reads.append(data)
    writer.close()
    return reads


class _Socket:
    """What the event loop's socket transport is told to send, write by write."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def test_the_writes_of_one_turn_go_to_the_socket_as_one() -> None:
    sock = _Socket()
    gathering = _GatheringTransport(sock, asyncio.get_running_loop())  # type: ignore[arg-type]
    gathering.write(b"HTTP/1.1 200 OK\r\n\r\n")
    gathering.write(BODY)
    assert sock.sent == []
    await asyncio.sleep(0)  # the end of this turn of the loop
    assert sock.sent == [b"HTTP/1.1 200 OK\r\n\r\n" + BODY]
    gathering.write(b"next")
    gathering.close()  # sends what is gathered before closing
    assert sock.sent[1:] == [b"next"] and sock.closed


async def test_a_response_arrives_whole(port: int) -> None:
    request = b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
    reads = await _exchange(port, request, complete=lambda got: got.endswith(BODY))
    whole = b"".join(reads)
    assert whole.startswith(b"HTTP/1.1 200 OK\r\n") and whole.endswith(b"\r\n\r\n" + BODY)


async def test_pipelined_requests_get_their_answers_in_order(port: int) -> None:
    request = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"
    reads = await _exchange(port, request * 3, complete=lambda got: got.count(BODY) == 3)
    whole = b"".join(reads)
    assert whole.count(b"HTTP/1.1 200 OK") == 3 and whole.endswith(BODY)


async def test_a_streamed_response_arrives_whole_and_in_order(port: int) -> None:
    reads = await _exchange(
        port, b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n", complete=lambda got: got.endswith(b"0\r\n\r\n")
    )
    whole = b"".join(reads)
    assert whole.index(b"first;") < whole.index(b"second")
    assert len(reads) >= 2  # the first part went out before the second was written


async def test_a_closing_connection_sends_its_answer_first(port: int) -> None:
    request = b"GET /a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    reads = await _exchange(port, request, complete=lambda got: got.endswith(BODY))
    assert b"connection: close" in reads[0].lower()
