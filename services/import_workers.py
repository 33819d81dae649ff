"""The processes of a bulk import: chunks checked and written side by side, then the recompute queue drained.

``Lander`` lands the chunks in the command's process or in worker processes forked from it, each with a
connection of its own, and gives their outcomes back in file order. A worker ends with the command, even one
killed outright (``_end_with``), and leaves Ctrl-C to the command: it finishes the chunk it is writing.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import gc
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

from services.import_chunks import ChunkContext, Landed
from services.import_files import Chunk
from store import pending
from store.db import create_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from domain.workdays import WorkCalendar

APPLICATION_NAME = "hrss-credit import"


class Lander:
    """Checks and writes chunks, in this process (``workers`` 0) or in ``workers`` processes side by side, each
    with a connection of its own: reading, checking and writing overlap, and PostgreSQL works on several chunks
    at once. The outcomes come back in file order whatever order the chunks commit in; at most ``workers + 2``
    chunks are under way. Once every chunk has landed, the same processes drain the recompute queue together.

    Two chunks under way at once may create the same subject or repeat a decision number: the later one waits
    for the earlier one's commit, fails on the unique key, and is written again from the start (``write_chunk``),
    which then finds the subject or the record.
    """

    def __init__(self, engine: AsyncEngine, context: ChunkContext, workers: int) -> None:
        self._engine = engine
        self._context = context
        self._workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> Lander:
        if self._workers:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self._workers,
                mp_context=_worker_context(),
                initializer=_start_worker,
                initargs=(self._context, os.getpid()),
            )
            self._pool.submit(_ready)  # the pool forks every worker at its first task: here, before any reading
        return self

    def __exit__(self, *exc: object) -> None:
        # Chunks already being written finish (and commit); queued ones are dropped.
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def land(
        self, source: Iterator[Chunk], *, skip: Callable[[int], bool]
    ) -> AsyncIterator[tuple[int, Chunk, Landed | None]]:
        numbered = enumerate(source, start=1)
        if self._pool is None:
            for number, chunk in numbered:
                yield number, chunk, None if skip(number) else await self._context.land(self._engine, chunk)
            return
        ahead: collections.deque[tuple[int, Chunk, asyncio.Future[Landed] | None]] = collections.deque()
        loop = asyncio.get_running_loop()
        while True:
            while len(ahead) < self._workers + 2:
                item = next(numbered, None)
                if item is None:
                    break
                number, chunk = item
                future = None if skip(number) else loop.run_in_executor(self._pool, _land_in_worker, chunk)
                ahead.append((number, chunk, future))
            if not ahead:
                return
            number, chunk, future = ahead.popleft()
            yield number, chunk, None if future is None else await future

    async def drain(self, calendar: WorkCalendar, on_batch: Callable[[int], None] | None) -> int:
        """Recompute the queued subjects; how many this import recomputed (API processes may help)."""
        today = self._context.today
        pool = self._pool
        if pool is None:
            return await pending.drain(self._engine, calendar=calendar, today=today, on_batch=on_batch)
        async with self._engine.connect() as conn:
            left = await pending.queued_count(conn)
        loop = asyncio.get_running_loop()
        running = [loop.run_in_executor(pool, _drain_in_worker) for _ in range(self._workers)]
        waiting: set[asyncio.Future[int]] = set(running)
        while waiting:
            _, waiting = await asyncio.wait(waiting, timeout=0.5)
            if on_batch is not None:  # the progress bar follows the queue shrinking as the batches commit
                async with self._engine.connect() as conn:
                    now = await pending.queued_count(conn)
                if now < left:
                    on_batch(left - now)
                    left = now
        return sum(future.result() for future in running)


# One per worker process: its chunk context, its event loop and its engine (a single connection).
_worker: tuple[ChunkContext, asyncio.AbstractEventLoop, AsyncEngine] | None = None
_WORKER_GC_THRESHOLDS = (50_000, 50, 1000)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers are forked from this process: they start at once with every module already loaded (a fork server
    or spawned processes import them all again, a cost a short import would feel). The worker leaves everything
    it inherits alone (``_start_worker``); where fork does not exist, they are spawned."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def import_engine(url: str) -> AsyncEngine:
    """The import's connection, in this process and in each worker: one, with a long statement timeout, named
    for ``pg_stat_activity``."""
    return create_engine(
        url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000, application_name=APPLICATION_NAME
    )


def _start_worker(context: ChunkContext, command: int) -> None:
    import multiprocessing.util
    import signal

    global _worker  # the worker process's own state, set once by the pool's initializer
    _end_with(command)
    # A forked worker is a copy of the command's thread that was running its event loop. It leaves alone what it
    # inherited: the collector never looks at those objects (so no finalizer of a copied connection runs), the
    # copied loop is forgotten (as Python 3.12 does itself after a fork) and the worker opens a connection of
    # its own. Ctrl-C is the command's to handle: a worker finishes (and commits) the chunk it is writing, then
    # the pool stops it.
    tune_collector()
    asyncio.events._set_running_loop(None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = import_engine(context.url)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker = (context, loop, engine)
    multiprocessing.util.Finalize(None, _stop_worker, exitpriority=10)
    loop.run_until_complete(_connect(engine))


_PR_SET_PDEATHSIG = 1  # prctl(2)
_PARENT_POLL_SECONDS = 1.0


def _end_with(command: int) -> None:
    """End this worker when the command that forked it ends, however it ends.

    A command killed outright (``kill -9``, the OOM killer) neither stops its pool nor closes the pipe its workers
    wait on for chunks (each worker holds that pipe's other end too): they would wait for ever, each holding a
    connection, under an init that reaps them only once they end. On Linux the kernel sends the worker SIGKILL
    when the thread that forked it ends: the command's main thread, which submits the pool's first task, and
    the pool forks every worker then. The chunk a worker is writing at that moment is rolled back with its
    connection, which loses nothing: the command that would have recorded the commit in the progress file is
    gone, and the re-run redoes that chunk. Elsewhere a thread checks, every second, that the command is still
    the worker's parent.
    """
    import signal
    import sys

    if sys.platform == "linux":
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != command:  # the command ended before the signal was asked for
                os._exit(1)
            return
    import threading

    def watch() -> None:
        while os.getppid() == command:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-command", daemon=True).start()


def tune_collector() -> None:
    """The garbage collector settings of a worker process (bench.check_cost measures under the same)."""
    # A chunk allocates some hundred thousand objects, nearly none of them in cycles: with the default
    # thresholds the collector ran every 700 allocations and, now and then, walked every module loaded. The
    # modules are moved out of its sight and it runs every 50,000 allocations.
    gc.freeze()
    gc.set_threshold(*_WORKER_GC_THRESHOLDS)


async def _connect(engine: AsyncEngine) -> None:
    async with engine.connect():  # the pool keeps the connection for the first chunk
        pass


def _ready() -> None:
    """Nothing: submitted once so that the pool starts its workers at once, from the thread that submits it."""


def _stop_worker() -> None:
    if _worker is not None:
        _, loop, engine = _worker
        loop.run_until_complete(engine.dispose())
        loop.close()


def _land_in_worker(chunk: Chunk) -> Landed:
    assert _worker is not None, "not a worker process"
    context, loop, engine = _worker
    return loop.run_until_complete(context.land(engine, chunk))


def _drain_in_worker() -> int:
    assert _worker is not None, "not a worker process"
    context, loop, engine = _worker
    return loop.run_until_complete(pending.drain(engine, today=context.today))
