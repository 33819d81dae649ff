"""Grades as materialized: the current timeline of each organization (WG art. 8-13)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import grades


@dataclass(frozen=True, slots=True)
class GradeRow:
    id: int
    subject_id: int
    level: str
    valid_from: date
    valid_to: date | None
    cycle_start: date
    cycle_end: date
    evaluated_at: datetime
    rule_document: str
    rule_article: str
    rule_text: str | None
    basis_record_ids: list[int]
    explanation: str
    disputed: bool


_COLUMNS = [grades.c[f] for f in GradeRow.__slots__]


def _row(r: Any) -> GradeRow:
    m = r._mapping
    return GradeRow(**{f: m[f] for f in GradeRow.__slots__})


async def on_day(conn: AsyncConnection, keys: Sequence[tuple[int, date]]) -> dict[tuple[int, date], GradeRow]:
    """The grade segment in force on each (subject, day): one indexed look-up for the whole batch, as stored
    (services.grading settles the subjects a bulk import queued before it reads)."""
    if not keys:
        return {}
    g = grades.c
    wanted = sa.select(
        sa.func.unnest(sa.cast([k[0] for k in keys], sa.ARRAY(sa.BigInteger))).label("sid"),
        sa.func.unnest(sa.cast([k[1] for k in keys], sa.ARRAY(sa.Date))).label("day"),
    ).subquery()
    rows = await conn.execute(
        sa.select(wanted.c.sid, wanted.c.day, *_COLUMNS).join(
            grades,
            sa.and_(
                g.subject_id == wanted.c.sid,
                g.superseded_at.is_(None),
                g.valid_from <= wanted.c.day,
                sa.or_(g.valid_to.is_(None), g.valid_to > wanted.c.day),
            ),
        )
    )
    return {(r.sid, r.day): _row(r) for r in rows}


async def history(conn: AsyncConnection, subject_ids: Sequence[int]) -> dict[int, list[GradeRow]]:
    """The current timeline, newest first, as stored."""
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .where(grades.c.subject_id.in_(list(set(subject_ids))), grades.c.superseded_at.is_(None))
        .order_by(grades.c.subject_id, grades.c.valid_from.desc())
    )
    found: dict[int, list[GradeRow]] = defaultdict(list)
    for r in rows:
        found[r.subject_id].append(_row(r))
    return found
