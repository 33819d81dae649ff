"""The audit log (SH art. 12, WG art. 7): append-only, hash-chained by a trigger (see migration 0001)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import audit_log


@dataclass
class AuditEntry:
    actor: str
    operation: str
    operation_type: str
    outcome: str
    audience: str | None = None
    request_id: str | None = None
    purpose: str | None = None
    subject_ids: Iterable[int] = ()
    fields_returned: Iterable[str] = ()
    fields_refused: Iterable[str] = field(default_factory=tuple)


async def append(conn: AsyncConnection, entry: AuditEntry) -> None:
    await conn.execute(
        audit_log.insert().values(
            actor=entry.actor,
            audience=entry.audience,
            operation=entry.operation,
            operation_type=entry.operation_type,
            outcome=entry.outcome,
            request_id=entry.request_id,
            purpose=entry.purpose,
            subject_ids=sorted(set(entry.subject_ids)),
            fields_returned=sorted(set(entry.fields_returned)),
            fields_refused=sorted(set(entry.fields_refused)),
            # Placeholders: the chain trigger overwrites both.
            prev_hash=b"",
            hash=b"",
        )
    )


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_id: int | None


async def verify(conn: AsyncConnection) -> ChainReport:
    """Walk the chain in id order and report the first entry whose link or digest does not hold."""
    rows = await conn.execute(
        sa.text(
            """
            SELECT id,
                   prev_hash = coalesce(lag(hash) OVER (ORDER BY id), decode(repeat('00', 32), 'hex'))
                     AND hash = audit_entry_digest(prev_hash, audit_log) AS ok
            FROM audit_log ORDER BY id
            """
        )
    )
    count = 0
    for r in rows:
        count += 1
        if not r.ok:
            return ChainReport(count, r.id)
    return ChainReport(count, None)


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: Any
    request_id: str | None
    actor: str
    audience: str | None
    operation: str
    operation_type: str
    subject_ids: list[int]
    fields_returned: list[str]
    fields_refused: list[str]
    purpose: str | None
    outcome: str
    hash: bytes


async def page(
    conn: AsyncConnection, *, first: int, before_id: int | None, subject_id: int | None, actor: str | None
) -> list[AuditRow]:
    """Newest first; one row more than asked tells whether an older page exists."""
    c = audit_log.c
    query = sa.select(*[c[f] for f in AuditRow.__slots__]).order_by(c.id.desc()).limit(first + 1)
    if before_id is not None:
        query = query.where(c.id < before_id)
    if subject_id is not None:
        query = query.where(c.subject_ids.any(subject_id))
    if actor is not None:
        query = query.where(c.actor == actor)
    return [AuditRow(**{f: r._mapping[f] for f in AuditRow.__slots__}) for r in await conn.execute(query)]
