"""Grades and restrictions: as they are read, settled first, and as the yearly evaluation writes them.

A bulk import queues the subjects whose records it changed instead of recomputing them in its own transaction
(store.pending). A reader must not see the stale grade or restriction of such a subject, so every read here
recomputes the queued subjects it is about to read (``pending.settle``), in the reader's transaction, before it
reads. The repositories in store/ only read; the recomputation is this layer's decision, made visibly.

The yearly evaluation (``evaluate_everyone``, ``hrss-credit evaluate``) takes the engine rather than a
connection: it evaluates every subject batch by batch, each batch committed on a connection of its own
(store.evaluation_batches), so that an interrupted run keeps what it did and is resumed by running it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.workdays import WorkCalendar
from store import evaluation, evaluation_batches, grading, holidays, pending, restrictions
from store.evaluation import Recomputed
from store.grading import GradeRow
from store.restrictions import RestrictionRow, ScreenHit


@dataclass(frozen=True, slots=True)
class Evaluated:
    """What a yearly evaluation did: the subjects it evaluated, and how many of them got new grades and new
    restrictions."""

    subjects: int
    grades_changed: int
    restrictions_changed: int


async def grades_on_day(conn: AsyncConnection, keys: Sequence[tuple[int, date]]) -> dict[tuple[int, date], GradeRow]:
    """The grade segment in force on each (subject, day)."""
    if not keys:
        return {}
    await pending.settle(conn, [k[0] for k in keys])
    return await grading.on_day(conn, keys)


async def grade_history(conn: AsyncConnection, subject_ids: Sequence[int]) -> dict[int, list[GradeRow]]:
    """The current grade timeline of each subject, newest first."""
    await pending.settle(conn, subject_ids)
    return await grading.history(conn, subject_ids)


async def restrictions_in_force(
    conn: AsyncConnection, subject_ids: Sequence[int], day: date, sectors: Sequence[str]
) -> dict[int, list[RestrictionRow]]:
    """The restrictions in force on ``day`` in these sectors, by subject."""
    await pending.settle(conn, subject_ids)
    return await restrictions.in_force(conn, subject_ids, day, sectors)


async def screen(
    conn: AsyncConnection,
    *,
    usccs: Sequence[str | None],
    id_hashes: Sequence[bytes | None],
    ids: Sequence[int | None],
    sector: str,
    day: date,
) -> list[ScreenHit]:
    """The subject and its restrictions in force for each reference, in request order (one round trip; two
    more when a subject found waits to be recomputed: it is, and the batch read again)."""
    read = await restrictions.screen(conn, usccs=usccs, id_hashes=id_hashes, ids=ids, sector=sector, day=day)
    if read.queued:
        await pending.settle(conn, read.queued)
        read = await restrictions.screen(conn, usccs=usccs, id_hashes=id_hashes, ids=ids, sector=sector, day=day)
    return read.hits


async def evaluate_everyone(
    engine: AsyncEngine,
    *,
    today: date,
    batch: int = evaluation_batches.EVALUATION_BATCH,
    lanes: int = evaluation_batches.EVALUATION_LANES,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Evaluated:
    """The yearly evaluation (WG art. 13) of every subject as of ``today``, under the holiday calendar the database
    holds: ``batch`` subjects a transaction, ``lanes`` batches under way at once (the engine's pool must hold
    them). ``on_start`` is told how many subjects there are once they and the calendar are read, before the first
    batch; ``on_batch`` how many subjects each committed batch held."""
    async with engine.connect() as conn:
        ids = await evaluation.all_subject_ids(conn)
        calendar = WorkCalendar(await holidays.load_table(conn))
    if on_start is not None:
        on_start(len(ids))
    grades_changed = restrictions_changed = 0

    def committed(done: Recomputed) -> None:
        nonlocal grades_changed, restrictions_changed
        grades_changed += len(done.grades_changed)
        restrictions_changed += len(done.restrictions_changed)
        if on_batch is not None:
            on_batch(len(done.subject_ids))

    await evaluation_batches.evaluate_all(
        engine, ids, calendar=calendar, today=today, batch=batch, lanes=lanes, on_batch=committed
    )
    return Evaluated(len(ids), grades_changed, restrictions_changed)
