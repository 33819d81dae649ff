"""One database connection and one transaction per request, opened on first use.

Resolvers run concurrently on one event loop, and an asyncpg connection serves one statement at a time, so
every use goes through ``RequestDb.run`` which serializes them. Only the request boundary commits
(``finish``); repositories below never do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from store.replicas import Replica, ReplicaSet

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database cannot be reached now (stopped, restarting, in recovery, out of connections): the request
    may be retried, unlike a defect."""


def unreachable(exc: BaseException) -> bool:
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


# A hot standby cancels a query whose snapshot conflicts with the WAL it must replay (a vacuumed row version it still
# needed): the read is sound on the primary.
RECOVERY_CONFLICT = "40001"


def replica_failed(exc: BaseException) -> bool:
    """The replica could not answer (gone, starting up, out of connections): the read goes elsewhere."""
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.CannotConnectNowError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", ""))
        return state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300")
    return unreachable(exc)


# What PostgreSQL answers a write in a READ ONLY transaction, on a hot standby too.
READ_ONLY_TRANSACTION = "25006"


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an asyncpg error, raised as is or wrapped by SQLAlchemy."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(getattr(exc, "orig", None), "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def read_elsewhere(exc: BaseException) -> bool:
    """A replica's failure the primary would not have: the read is repeated there."""
    return replica_failed(exc) or _sqlstate(exc) == RECOVERY_CONFLICT


class RequestDb:
    """The request's connection. An operation that only reads says so (``only_reads``) before its first
    statement: its transaction is then READ ONLY, and runs on a replica when ``replicas`` has a usable one."""

    def __init__(self, engine: AsyncEngine, replicas: ReplicaSet | None = None) -> None:
        self.engine = engine
        self.replicas = replicas
        self._conn: AsyncConnection | None = None
        self._replica: Replica | None = None
        self._reads_only = False
        self._lock = asyncio.Lock()

    @property
    def opened(self) -> bool:
        return self._conn is not None

    def only_reads(self) -> None:
        if self._conn is None:
            self._reads_only = True

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                if self._conn is None:
                    await self._open()
                # At most two moves: off a failed replica, then off a READ ONLY transaction the read must write in.
                moves = 0
                while True:
                    assert self._conn is not None
                    try:
                        return await work(self._conn)
                    except Exception as exc:
                        if moves == 2 or not await self._move_for(exc):
                            raise
                        moves += 1
            except Exception as exc:
                if unreachable(exc):
                    raise DatabaseUnavailable("the database is unavailable") from exc
                raise

    async def _move_for(self, exc: BaseException) -> bool:
        """Leave a connection that cannot do the work for the primary, or say it cannot help (False).

        A read that turns out to write (a reader recomputes a subject a bulk import queued) goes on read-write on
        the primary, as a request that writes does; a read a replica failed goes on on the primary. The
        statements the connection ran before read a snapshot of their own, as every statement of a READ
        COMMITTED transaction does, and wrote nothing: a READ ONLY transaction cannot."""
        writes = self._reads_only and _sqlstate(exc) == READ_ONLY_TRANSACTION
        if not writes and (self._replica is None or not read_elsewhere(exc)):
            return False
        conn, self._conn = self._conn, None
        replica, self._replica = self._replica, None
        if replica is not None and self.replicas is not None and replica_failed(exc):
            self.replicas.drop(replica, exc)
        if conn is not None:
            with contextlib.suppress(Exception):
                if replica is None or not replica_failed(exc):
                    await conn.rollback()
                    await conn.close()
                else:
                    await conn.invalidate()
        if writes:
            self._reads_only = False
        await self._open()
        return True

    async def _open(self) -> None:
        replica = self.replicas.pick() if self._reads_only and self.replicas is not None else None
        if replica is not None and replica.engine is not None:
            try:
                conn = await replica.engine.connect()
                self._conn = await conn.execution_options(postgresql_readonly=True)
                self._replica = replica
                replica.served += 1
                return
            except Exception as exc:
                if not replica_failed(exc):
                    raise
                self.replicas.drop(replica, exc)  # type: ignore[union-attr]
        conn = await self.engine.connect()
        self._conn = await conn.execution_options(postgresql_readonly=True) if self._reads_only else conn

    async def finish(self, *, commit: bool) -> None:
        """Commit (or roll back) and give the connection back to the pool."""
        async with self._lock:
            conn, self._conn = self._conn, None
            replica, self._replica = self._replica, None
            if conn is None:
                return
            try:
                if conn.in_transaction():
                    if commit:
                        await conn.commit()
                    else:
                        await conn.rollback()
            except Exception as exc:
                if self._reads_only and replica_failed(exc):
                    # A READ ONLY transaction wrote nothing: the server gone before its COMMIT loses nothing
                    # of what it read, which is the answer.
                    if replica is not None and self.replicas is not None:
                        self.replicas.drop(replica, exc)
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
                    return
                if unreachable(exc):
                    raise DatabaseUnavailable("the database is unavailable") from exc
                raise
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
