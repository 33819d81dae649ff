"""The group writer: the entries of concurrent callers in one INSERT and one commit (store.audit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.audit_entry import _INSERT, AuditEntry, _entries_param
from store.session import DatabaseUnavailable, unreachable


class AuditWriter:
    """Group commit of audit entries: ``await writer.append(entry)`` returns once the entry is durable.

    The interface for any request path (the GraphQL extension, a compiled read plan)::

        writer = AuditWriter(engine)          # one per process, made in the lifespan
        await writer.append(entry)            # returns after the commit that holds the entry; raises if it failed
        await writer.close()                  # at shutdown: writes what is queued, then refuses new entries

    ``append`` never joins the caller's transaction: commit or release the request's own connection first, so
    that it is not held while the entry waits for its batch. Entries of concurrent callers that arrive while a
    batch is being written go together into the next one (at most ``max_batch``, ``max_in_flight`` batches at
    once, each one INSERT committing on its own). One batch in flight makes the largest batches, so the fewest
    commits for the database to do. When a batch fails, its entries are written one by one, so an
    entry the database refuses fails its own caller only. An unreachable database raises
    :class:`store.session.DatabaseUnavailable`; anything else raises the database's error. ``on_durable`` (if
    set) is called after each batch: the process's sealer uses it to wake up.

    The writer keeps up to ``max_in_flight`` connections of ``engine`` between batches. A kept connection the
    server dropped meanwhile is replaced and the batch sent once more; should the first attempt have committed
    all the same (the connection lost mid-commit), its entries are then recorded twice, never lost.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 1000,
        max_in_flight: int = 1,
        on_durable: Callable[[], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._engine = engine
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self.on_durable = on_durable
        self._queue: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: list[AsyncConnection] = []  # kept between batches: no pool check-out, ping or reset per batch
        self._closed = False

    async def append(self, entry: AuditEntry) -> None:
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, done))
        self._start_batches()
        # The batch goes on when the caller is cancelled (a client that went away): its entry is written anyway.
        await asyncio.shield(done)

    async def close(self) -> None:
        """Write every queued entry, wait for the batches in flight, then refuse new entries."""
        self._closed = True
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()

    def _start_batches(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._in_flight += 1
            task = asyncio.create_task(self._write(batch), name="audit-writer-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: list[tuple[AuditEntry, asyncio.Future[None]]]) -> None:
        try:
            try:
                await self._insert([entry for entry, _ in batch])
            except Exception as exc:
                if len(batch) == 1 or unreachable(exc):
                    for _, done in batch:
                        _fail(done, exc)
                    return
                for entry, done in batch:
                    try:
                        await self._insert([entry])
                    except Exception as single:
                        _fail(done, single)
                    else:
                        _succeed(done)
                return
            for _, done in batch:
                _succeed(done)
        finally:
            self._in_flight -= 1
            if self.on_durable is not None:
                self.on_durable()
            self._start_batches()

    async def _insert(self, entries: list[AuditEntry]) -> None:
        # One autocommit statement: its commit is durable when it returns (synchronous_commit), one round trip.
        kept = bool(self._idle)
        conn = self._idle.pop() if kept else await self._connect()
        try:
            await conn.execute(_INSERT, _entries_param(entries))
        except Exception as exc:
            if not unreachable(exc):
                self._idle.append(conn)
                raise
            await _discard(conn)
            if not kept:
                raise
            # A kept connection the server dropped while it was idle (a restart, a failover): once more on a
            # fresh one from the pool, which checks what it hands out.
            conn = await self._connect()
            try:
                await conn.execute(_INSERT, _entries_param(entries))
            except Exception as again:
                if unreachable(again):
                    await _discard(conn)
                else:
                    self._idle.append(conn)
                raise
        self._idle.append(conn)

    async def _connect(self) -> AsyncConnection:
        return await (await self._engine.connect()).execution_options(isolation_level="AUTOCOMMIT")


async def _discard(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


def _succeed(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    if done.done():
        return
    if unreachable(exc):
        error: BaseException = DatabaseUnavailable("the database is unavailable")
        error.__cause__ = exc
        done.set_exception(error)
    else:
        done.set_exception(exc)
