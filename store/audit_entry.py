"""An audit entry, and :func:`append`, which writes one inside the caller's transaction (store.audit)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


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
    receipt_id: str | None = None  # the signed screening receipt the request issued (services.receipts)

    def row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "actor": self.actor,
            "audience": self.audience,
            "operation": self.operation,
            "operation_type": self.operation_type,
            "subject_ids": sorted(set(self.subject_ids)),
            "fields_returned": sorted(set(self.fields_returned)),
            "fields_refused": sorted(set(self.fields_refused)),
            "purpose": self.purpose,
            "outcome": self.outcome,
            "receipt_id": self.receipt_id,
        }


# One statement for one entry or a thousand: a single JSON parameter, planned once. The ids are drawn in the
# order of the list.
_INSERT = sa.text(
    """
    INSERT INTO audit_log (request_id, actor, audience, operation, operation_type, subject_ids, fields_returned,
                           fields_refused, purpose, outcome, receipt_id)
    SELECT e.request_id, e.actor, e.audience, e.operation, e.operation_type, e.subject_ids, e.fields_returned,
           e.fields_refused, e.purpose, e.outcome, e.receipt_id
    FROM ROWS FROM (jsonb_to_recordset(CAST(:entries AS jsonb)) AS (
        request_id text, actor text, audience text, operation text, operation_type text, subject_ids bigint[],
        fields_returned text[], fields_refused text[], purpose text, outcome text, receipt_id text))
        WITH ORDINALITY AS e
    ORDER BY e.ordinality
    """
)


def _entries_param(entries: Sequence[AuditEntry]) -> dict[str, str]:
    return {"entries": orjson.dumps([e.row() for e in entries]).decode()}


async def append(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append ``entry`` in the connection's transaction: it is durable when, and only if, that transaction
    commits. For a write whose entry must commit with it; a read uses :class:`AuditWriter`."""
    await conn.execute(_INSERT, _entries_param([entry]))
