"""Credit records: import a batch (all or nothing, idempotent), revoke one.

Every write recomputes the grades and restrictions of each subject it touched and of every organization that
subject represents (SH art. 9(2)2), in the caller's transaction. A source unit writes only records of its own
unit (policy.md): ``own_unit`` is that unit, None for a caller that writes any unit's records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.taxonomy import RecordStatus
from domain.workdays import WorkCalendar
from services.errors import BadUserInput, Conflict, Forbidden, NotFound
from store import bulk, evaluation, imports, outbox
from store import records as record_store
from store.imports import RowError
from store.pii import PiiCipher
from store.records import RecordRow


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    unchanged: int
    errors: list[RowError]  # a batch with errors wrote nothing
    record_ids: list[int]


async def import_records(
    conn: AsyncConnection,
    items: Sequence[Mapping[str, Any]],
    *,
    actor: str,
    own_unit: str | None,
    today: date,
    calendar: WorkCalendar,
    pii: PiiCipher,
    parse_subject_id: Callable[[str], int],
) -> ImportResult:
    """Check every row (each in the shape of a JSON line of a file), then write them all or none."""
    if len(items) > imports.MAX_BATCH:
        raise BadUserInput(f"at most {imports.MAX_BATCH} records a call (got {len(items)})", field="records")
    rows, problems = bulk.build_rows(items, today=today, own_unit=own_unit, parse_subject_id=parse_subject_id)
    if problems:
        return ImportResult(created=0, unchanged=0, errors=problems, record_ids=[])
    outcome = await imports.import_records(conn, rows, actor=actor, pii=pii)
    if outcome.errors:
        return ImportResult(created=0, unchanged=0, errors=outcome.errors, record_ids=[])
    await evaluation.recompute(conn, outcome.touched_subjects, calendar=calendar, today=today)
    return ImportResult(
        created=outcome.created, unchanged=outcome.unchanged, errors=[], record_ids=list(outcome.record_ids)
    )


async def revoke_record(
    conn: AsyncConnection,
    record: RecordRow | None,
    reason: str,
    *,
    own_unit: str | None,
    today: date,
    calendar: WorkCalendar,
) -> None:
    """Revoke a current record: its status becomes REVOKED with the reason, the platform is told (outbox) and its
    subject recomputed."""
    text = reason.strip()
    if not text:
        raise BadUserInput("a revocation needs its reason", field="reason")
    if record is None:
        raise NotFound("no such record")
    if own_unit is not None and record.source_unit != own_unit:
        raise Forbidden("Forbidden: a source unit revokes only its own records")
    if record.superseded_by_id is not None or record.status in (RecordStatus.REVOKED, RecordStatus.CORRECTED):
        raise Conflict(f"the record is {record.status} and cannot be revoked")
    await record_store.set_status(conn, record.id, RecordStatus.REVOKED, reason=text)
    payload = {"record_id": record.id, "subject_id": record.subject_id, "status": "REVOKED", "reason": text}
    await outbox.record_events(conn, [("record.revoked", record.id, payload)])
    await evaluation.recompute(conn, [record.subject_id], calendar=calendar, today=today)
