"""Subjects waiting for their grades and restrictions to be recomputed (the recompute queue).

Every write through the API recomputes in its own transaction (store.evaluation). A bulk import from a file
(``hrss-credit import``) instead queues the subjects it touched, in the transaction that writes their records,
and recomputes them set by set right after (``drain``), so that records land at the speed of COPY-like inserts
and the rules engine runs once per subject rather than once per chunk. Nobody reads a stale grade meanwhile:

- every reader of grades or restrictions (services.grading) first calls ``settle`` for the subjects it is
  about to read, which recomputes those that are queued, in the reader's transaction;
- ``recompute`` removes from the queue every subject it recomputes, whoever calls it;
- the import drains the queue before it returns, and every API process drains it in the background
  (``drain_forever``), woken by the import's notification, so that restrictionChanged subscribers hear of
  the changes within moments even when nobody reads.

Two drainers never recompute the same subject at once: a batch is taken with ``FOR UPDATE SKIP LOCKED`` and
deleted in the drainer's transaction, and ``recompute`` itself locks the subjects it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import date

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.workdays import WorkCalendar
from store import evaluation, holidays, notify
from store.db import bureau_today

log = structlog.get_logger("hrss_credit.pending")

CHANNEL = "hrss_recompute"  # NOTIFY'd by an import's chunk when it queued subjects
DRAIN_BATCH = 500

# A subject already queued gets its row updated, not skipped: the row lock then keeps a concurrent settle or
# drain (which skip locked rows) from dequeuing it before this transaction's records are visible.
_QUEUE = sa.text(
    """
    INSERT INTO recompute_queue (subject_id) SELECT unnest(CAST(:ids AS bigint[]))
    ON CONFLICT (subject_id) DO UPDATE SET queued_at = now()
    """
)
_QUEUED_AMONG = sa.text("SELECT subject_id FROM recompute_queue WHERE subject_id = ANY(CAST(:ids AS bigint[]))")
_TAKE = sa.text(
    """
    DELETE FROM recompute_queue WHERE subject_id IN (
      SELECT subject_id FROM recompute_queue ORDER BY subject_id LIMIT :n FOR UPDATE SKIP LOCKED
    ) RETURNING subject_id
    """
)


async def enqueue(conn: AsyncConnection, subject_ids: Iterable[int]) -> None:
    """Queue these subjects (in the caller's transaction) and wake the drainers when it commits."""
    ids = sorted(set(subject_ids))
    if ids:
        await conn.execute(_QUEUE, {"ids": ids})
        await wake_drainers(conn)


async def wake_drainers(conn: AsyncConnection) -> None:
    """Notify the drainers (``Drainer``), at the commit of the caller's transaction, that subjects are queued."""
    await conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def settle(conn: AsyncConnection, subject_ids: Iterable[int]) -> int:
    """Recompute those of these subjects that are queued, in the caller's transaction; how many there were.

    One indexed look-up when none is queued (the usual case)."""
    ids = sorted(set(subject_ids))
    if not ids:
        return 0
    queued = list((await conn.execute(_QUEUED_AMONG, {"ids": ids})).scalars())
    if queued:
        await recompute_queued(conn, queued)
    return len(queued)


async def recompute_queued(conn: AsyncConnection, subject_ids: Iterable[int]) -> None:
    calendar = WorkCalendar(await holidays.load_table(conn))
    await evaluation.recompute(conn, subject_ids, calendar=calendar, today=bureau_today())


async def queued_count(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.text("SELECT count(*) FROM recompute_queue"))).scalar_one())


async def drain(
    engine: AsyncEngine,
    *,
    batch: int = DRAIN_BATCH,
    calendar: WorkCalendar | None = None,
    today: date | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Recompute queued subjects, ``batch`` at a time, each batch in its own transaction, until the queue is
    empty (or holds only subjects other drainers are working on); returns how many this call recomputed."""
    done = 0
    if calendar is None:
        async with engine.connect() as conn:
            calendar = WorkCalendar(await holidays.load_table(conn))
    while True:
        async with engine.begin() as conn:
            ids = list((await conn.execute(_TAKE, {"n": batch})).scalars())
            if not ids:
                return done
            await evaluation.recompute(conn, ids, calendar=calendar, today=today or bureau_today())
        done += len(ids)
        if on_batch is not None:
            on_batch(len(ids))


class Drainer:
    """An API process's background drain: woken by an import's notification (``CHANNEL``) and every
    ``interval`` seconds, it recomputes what is queued, so that restrictionChanged subscribers hear of an
    import's changes even when nobody reads the subjects. Several processes share the work (SKIP LOCKED)."""

    def __init__(self, engine: AsyncEngine, url: str, *, interval: float = 30.0) -> None:
        self._engine = engine
        self._url = url
        self._interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="recompute-drainer")

    async def stop(self) -> None:
        if self._task is not None:
            await notify.cancel(self._task)
            self._task = None

    async def _run(self) -> None:
        listener = asyncio.create_task(
            notify.listen(self._url, CHANNEL, lambda *_: self._wake.set(), what="recompute drainer"),
            name="recompute-drainer-listen",
        )
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
                self._wake.clear()
                try:
                    done = await drain(self._engine)
                except Exception as exc:  # a dropped connection, a failed batch: try again later
                    log.warning("recompute drainer retrying", error=type(exc).__name__)
                    await asyncio.sleep(self._interval / 10)
                    continue
                if done:
                    log.info("recomputed queued subjects", subjects=done)
        finally:
            await notify.cancel(listener)
