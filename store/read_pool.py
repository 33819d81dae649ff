"""A pool of asyncpg connections for the compiled reads: one statement a lease, nothing else.

asyncpg's own pool prepares each connection for arbitrary use: on release it waits out a cancellation, runs the
reset hook under a timeout and checks the connection's generation and query count, on acquire it runs the setup
hooks. A compiled read takes a connection for a single statement in its own implicit transaction and sets no
session state, so none of that applies, and on the hot path it costs more than the statement's own client work.
This pool hands out idle connections last in first out (the warm ones, whose prepared statements are cached),
connects lazily up to ``max_size``, and drops every connection whose lease ended in anything but an error the
server reported, so a connection in an unknown protocol state (a cancelled or timed-out statement, a lost socket)
is never handed out again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import asyncpg  # type: ignore[import-untyped]


class PoolClosed(RuntimeError):
    """The pool was closed: no connection is handed out any more."""


class ReadPool:
    """``async with pool.acquire() as conn: await conn.fetchrow(...)``; ``await pool.close()`` at shutdown."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], *, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._connect = connect
        self._max_size = max_size
        self._idle: list[Any] = []
        self._size = 0  # connections open or being opened, idle or leased
        # Callers waiting for a connection: each future gets one, or None when a place to connect came free.
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> _Lease:
        return _Lease(self)

    async def close(self) -> None:
        """Close the idle connections and refuse new leases; a leased connection is closed when it comes back."""
        self._closed = True
        idle, self._idle = self._idle, []
        self._size -= len(idle)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the pool is closed"))
        for conn in idle:
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()

    async def _take(self) -> Any:
        while True:
            if self._closed:
                raise PoolClosed("the pool is closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._size -= 1
            if self._size < self._max_size:
                self._size += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._size -= 1
                    self._hand_over(None)
                    raise
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                # Cancelled after a connection was handed over but before this caller resumed: pass it on.
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed = waiter.result()
                    if handed is not None:
                        self._give(handed, reusable=True)
                    else:
                        self._hand_over(None)
                raise
            if conn is not None:
                return conn

    def _give(self, conn: Any, *, reusable: bool) -> None:
        if not reusable or self._closed or conn.is_closed():
            conn.terminate()
            self._size -= 1
            self._hand_over(None)
            return
        if not self._hand_over(conn):
            self._idle.append(conn)

    def _hand_over(self, conn: Any) -> bool:
        """Give ``conn`` (or, with None, the place of a connection that closed) to the first caller still
        waiting; False when nobody is."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False


class _Lease:
    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        self._conn = await self._pool._take()
        return self._conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # An error the server reported ends the statement cleanly (each read is its own implicit transaction);
        # after anything else the connection's state is unknown.
        reusable = exc is None or (isinstance(exc, asyncpg.PostgresError) and not self._conn.is_in_transaction())
        conn, self._conn = self._conn, None
        self._pool._give(conn, reusable=reusable)
