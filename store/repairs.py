"""Credit repair applications (信用修复, SH art. 11, WG art. 21, the national repair rule NDRC 2025/36; early removal
from the wage-arrears list, MOHRSS 45).

SQL only, in the caller's transaction (no commits). The record row is locked (``FOR UPDATE``) before an application
is checked and written, so two applications for one record, or an approval racing an objection, are serialized.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import credit_records, repairs

OPEN = ("SUBMITTED",)


@dataclass(frozen=True, slots=True)
class RepairRow:
    id: int
    record_id: int
    subject_id: int
    status: str
    statement: str
    submitted_at: datetime
    submitted_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision: str | None


_COLUMNS = tuple(repairs.c[name] for name in RepairRow.__slots__)


def _row(r: Any) -> RepairRow:
    m = r._mapping
    return RepairRow(**{f: m[f] for f in RepairRow.__slots__})


async def by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, RepairRow]:
    rows = await conn.execute(sa.select(*_COLUMNS).where(repairs.c.id.in_(list(set(ids)))))
    return {r.id: _row(r) for r in rows}


async def by_subjects(conn: AsyncConnection, subject_ids: Sequence[int]) -> dict[int, list[RepairRow]]:
    """The repair applications of each subject, newest first, in one statement."""
    query = (
        sa.select(*_COLUMNS)
        .where(repairs.c.subject_id.in_(list(set(subject_ids))))
        .order_by(repairs.c.subject_id, repairs.c.submitted_at.desc(), repairs.c.id.desc())
    )
    found: dict[int, list[RepairRow]] = defaultdict(list)
    for r in await conn.execute(query):
        found[r.subject_id].append(_row(r))
    return found


async def lock_record(conn: AsyncConnection, record_id: int) -> tuple[str, int | None] | None:
    """Lock the record version for the rest of the transaction; its (status, superseded_by_id), or None."""
    c = credit_records.c
    found = (
        await conn.execute(sa.select(c.status, c.superseded_by_id).where(c.id == record_id).with_for_update())
    ).first()
    return (found.status, found.superseded_by_id) if found is not None else None


async def open_for_record(conn: AsyncConnection, record_id: int) -> RepairRow | None:
    """The application for this record still waiting for a decision, if any."""
    found = (
        await conn.execute(
            sa.select(*_COLUMNS).where(repairs.c.record_id == record_id, repairs.c.status.in_(OPEN)).limit(1)
        )
    ).first()
    return _row(found) if found is not None else None


async def insert(conn: AsyncConnection, *, record_id: int, subject_id: int, statement: str, submitted_by: str) -> int:
    pk: int = (
        await conn.execute(
            repairs.insert()
            .values(
                record_id=record_id,
                subject_id=subject_id,
                status="SUBMITTED",
                statement=statement,
                submitted_by=submitted_by,
            )
            .returning(repairs.c.id)
        )
    ).scalar_one()
    return pk


async def decide(conn: AsyncConnection, repair_id: int, *, status: str, decided_by: str, decision: str) -> bool:
    """Record the decision; False when the application was decided meanwhile."""
    result = await conn.execute(
        repairs.update()
        .where(repairs.c.id == repair_id, repairs.c.status.in_(OPEN))
        .values(status=status, decided_at=sa.func.now(), decided_by=decided_by, decision=decision)
        .returning(repairs.c.id)
    )
    return result.first() is not None


async def mark_repaired(conn: AsyncConnection, record_id: int, *, reason: str) -> bool:
    """An approved repair: the current, ACTIVE version becomes REPAIRED from now (its effect ends the day before,
    ``domain.publicity.effect_interval``); False when the record is not ACTIVE or not current any more."""
    c = credit_records.c
    result = await conn.execute(
        credit_records.update()
        .where(c.id == record_id, c.status == "ACTIVE", c.superseded_by_id.is_(None))
        .values(status="REPAIRED", status_reason=reason, status_changed_at=sa.func.now())
        .returning(c.id)
    )
    return result.first() is not None
