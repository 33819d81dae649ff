"""One database connection and one transaction per request, opened on first use.

Resolvers run concurrently on one event loop, and an asyncpg connection serves one statement at a time, so
every use goes through ``RequestDb.run`` which serializes them. Only the request boundary commits
(``finish``); repositories below never do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (stopped, restarting, in recovery, out of connections): the request
    may be retried, unlike a defect."""


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect
        # now) and 53300 (too many connections).
        state = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300")):
            return True
        return isinstance(exc.orig, OSError) or isinstance(getattr(exc.orig, "__cause__", None), OSError)
    return False


class RequestDb:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @property
    def opened(self) -> bool:
        return self._conn is not None

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                if self._conn is None:
                    self._conn = await self.engine.connect()
                return await work(self._conn)
            except Exception as exc:
                if _unreachable(exc):
                    raise DatabaseUnavailable("the database is unavailable") from exc
                raise

    async def finish(self, *, commit: bool) -> None:
        """Commit (or roll back) and give the connection back to the pool."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                if conn.in_transaction():
                    if commit:
                        await conn.commit()
                    else:
                        await conn.rollback()
            except Exception as exc:
                if _unreachable(exc):
                    raise DatabaseUnavailable("the database is unavailable") from exc
                raise
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
