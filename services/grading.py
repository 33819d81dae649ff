"""Grades and restrictions as they are read: settled first.

A bulk import queues the subjects whose records it changed instead of recomputing them in its own transaction
(store.pending). A reader must not see the stale grade or restriction of such a subject, so every read here
recomputes the queued subjects it is about to read (``pending.settle``), in the reader's transaction, before it
reads. The repositories in store/ only read; the recomputation is this layer's decision, made visibly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from store import grading, pending, restrictions
from store.grading import GradeRow
from store.restrictions import RestrictionRow, ScreenHit


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
