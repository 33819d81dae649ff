"""One database connection and one transaction per request, opened on first use.

Resolvers run concurrently on one event loop, and an asyncpg connection serves one statement at a time, so
every use goes through ``RequestDb.run`` which serializes them. Only the request boundary commits
(``finish``); repositories below never do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")


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
            if self._conn is None:
                self._conn = await self.engine.connect()
            return await work(self._conn)

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
            finally:
                await conn.close()
