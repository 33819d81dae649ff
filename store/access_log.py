"""Who read a subject's file (PIPL art. 44-45): the audited reads whose entries name the subject, newest first.

An access-log entry carries only when, which audience, the purpose the caller stated and the operation's name:
never the actor (an official's or a client's identity), never the entry's other subjects or fields. The reads
are found by containment, the form the GIN index on ``subject_ids`` serves (migrations 0015, 0018).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from store import paging
from store.paging import Page, Window
from store.tables import audit_log


@dataclass(frozen=True, slots=True)
class AccessRow:
    id: int
    at: datetime
    audience: str | None
    purpose: str | None
    operation: str


def query(subject_id: int, window: Window[int], *, excluding_audience: str | None) -> sa.Select[tuple[object, ...]]:
    """The statement of one page: entries naming ``subject_id``, by others than ``excluding_audience``. Unsealed
    entries count too: they are committed reads, only not chained yet, and the access log shows no hash. The
    sealed ones are found through the GIN index (it holds sealed entries only, migration 0018), the unsealed tail
    through its own partial index, each part a page at most; the page is the newest of both."""
    c = audit_log.c
    key = (c.id,)
    where = [
        c.subject_ids.contains(sa.cast([subject_id], ARRAY(sa.BigInteger))),
        *paging.clauses(key, True, window),
    ]
    if excluding_audience is not None:
        where.append(c.audience.is_distinct_from(excluding_audience))
    parts = [
        sa.select(c.id, c.at, c.audience, c.purpose, c.operation)
        .where(*where, sealed)
        .order_by(*paging.order(key, True, window))
        .limit(window.limit)
        for sealed in (c.hash.is_not(None), c.hash.is_(None))
    ]
    both = sa.union_all(*parts).subquery("entries")
    return (
        sa.select(both.c.id, both.c.at, both.c.audience, both.c.purpose, both.c.operation)
        .order_by(*paging.order((both.c.id,), True, window))
        .limit(window.limit)
    )


async def page(
    conn: AsyncConnection, subject_id: int, window: Window[int], *, excluding_audience: str | None
) -> Page[AccessRow]:
    result = await conn.execute(query(subject_id, window, excluding_audience=excluding_audience))
    rows = [AccessRow(id=r.id, at=r.at, audience=r.audience, purpose=r.purpose, operation=r.operation) for r in result]
    return paging.settle(rows, lambda r: r.id, window)


async def merge_index(conn: AsyncConnection) -> int:
    """Merge the subject index's pending list into its tree (the sealer, in the background); the pages merged."""
    return int((await conn.execute(sa.text("SELECT audit_log_merge_index()"))).scalar_one())
