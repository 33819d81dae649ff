"""Credit repair (信用修复): apply to repair a dishonesty record, decide the application.

SH art. 11 and WG art. 21, the national repair rule (NDRC 2025/36) and, for a wage-arrears listing, early removal
(MOHRSS 45); the conditions are ``domain.publicity``'s ``repair_refusal``, checked against the record's status
under the transaction's lock, when the subject applies and again when the bureau approves. An approved repair sets
the record REPAIRED, queues record.repaired for the city credit platform (outbox) and recomputes the subject.

The caller hands over the application and the record as the row rule let it see them; a use case checks the rest.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.model import Record
from domain.publicity import COMMITMENT_MISSING, RepairRefusal, repair_refusal
from domain.rules import MOHRSS_45_PACK, publicity_regime
from domain.taxonomy import RecordStatus, RecordType, RepairStatus, Severity
from domain.workdays import WorkCalendar
from services.errors import BadUserInput, Conflict, NotFound
from services.texts import required_text
from store import evaluation, outbox
from store import repairs as repair_store
from store.records import RecordRow
from store.repairs import RepairRow

REPAIRED_TOPIC = "record.repaired"


def domain_record(row: RecordRow, status: str) -> Record:
    """The record as the repair rules read it, with the status it has under the transaction's lock."""
    return Record(
        id=row.id,
        subject_id=row.subject_id,
        type=RecordType(row.type),
        severity=Severity(row.severity) if row.severity else None,
        status=RecordStatus(status),
        decided_on=row.decided_on,
        publicity_until=row.publicity_until,
        penalty_fulfilled=row.penalty_fulfilled,
        corrected_on=row.corrected_on,
    )


def refused(refusal: RepairRefusal, field: str, *, article: str | None = None) -> BadUserInput:
    """The refusal as an error a client can act on: the unmet condition, the earliest day it can be met, and the
    article that requires it when the client can meet it by changing its input."""
    earliest = refusal.earliest.isoformat() if refusal.earliest else None
    message = f"repair refused ({refusal.condition}): {refusal.reason}"
    if article:
        message += f" ({article})"
    if earliest:
        message += f"; earliest {earliest}"
    extra: dict[str, object] = {"article": article} if article else {}
    return BadUserInput(
        message,
        field=field,
        condition=refusal.condition,
        earliest=earliest,
        **extra,
    )


def commitment_article(row: RecordRow) -> str:
    """The rule that requires the credit commitment: MOHRSS 45 (a written one) for early removal from the
    wage-arrears list, otherwise SH art. 11 and the national repair rule governing the record."""
    if row.type == RecordType.WAGE_ARREARS_BLACKLIST.value:
        return MOHRSS_45_PACK.short
    return f"SH art. 11, {publicity_regime(row.decided_on).short}"


def committed_statement(statement: str, commitment: bool | None, row: RecordRow) -> tuple[str, bool]:
    """The statement to keep and whether it makes the credit commitment. Unless ``commitment`` says otherwise, the
    statement is the signed commitment itself, so a blank one is refused as a missing commitment."""
    if commitment is not None:
        return required_text(statement, "statement"), commitment
    text = statement.strip()
    if not text:
        article = commitment_article(row)
        raise BadUserInput(
            f"statement must not be empty: it is the signed credit commitment (信用承诺书) a repair requires ({article})",
            field="statement",
            condition=COMMITMENT_MISSING,
            earliest=None,
            article=article,
        )
    return required_text(text, "statement"), True


async def _locked_status(conn: AsyncConnection, row: RecordRow) -> str:
    locked = await repair_store.lock_record(conn, row.id)
    if locked is None:  # records are never deleted
        raise NotFound("no such record")
    status, superseded_by = locked
    if status == RecordStatus.UNDER_OBJECTION.value:
        raise Conflict("an objection against this record is being handled: the repair waits for its decision")
    return RecordStatus.CORRECTED.value if superseded_by is not None else status


async def apply_repair(
    conn: AsyncConnection, record: RecordRow, statement: str, commitment: bool | None, *, actor: str, today: date
) -> int:
    """Apply to repair the record (SH art. 11, NDRC 2025/36; a wage-arrears listing: MOHRSS 45): the new
    application's id. ``commitment`` None: the statement is the credit commitment."""
    text, committed = committed_statement(statement, commitment, record)
    status = await _locked_status(conn, record)
    if await repair_store.open_for_record(conn, record.id) is not None:
        raise Conflict("a repair application for this record is already waiting for its decision")
    refusal = repair_refusal(domain_record(record, status), today, commitment=committed)
    if refusal is not None and refusal.condition == COMMITMENT_MISSING:
        raise refused(refusal, "commitment", article=commitment_article(record))
    if refusal is not None:
        raise refused(refusal, "recordId")
    return await repair_store.insert(
        conn, record_id=record.id, subject_id=record.subject_id, statement=text, submitted_by=actor
    )


def check_open(application: RepairRow) -> None:
    """CONFLICT when the application is decided already. It needs no record, so a caller can refuse the decision
    before it looks the record up."""
    if application.status not in repair_store.OPEN:
        raise Conflict(f"the application is already decided ({application.status})")


async def decide_repair(
    conn: AsyncConnection,
    application: RepairRow,
    record: RecordRow,
    *,
    approve: bool,
    decision: str,
    actor: str,
    today: date,
    calendar: WorkCalendar,
) -> None:
    """Decide the application for ``record``: approval repairs the record, which ends its publication, sharing and
    restrictions at once; a rejection keeps it."""
    text = required_text(decision, "decision")
    check_open(application)
    if approve:
        await _repair_record(conn, application, record, text, today=today)
    decided = await repair_store.decide(
        conn,
        application.id,
        status=(RepairStatus.APPROVED if approve else RepairStatus.REJECTED).value,
        decided_by=actor,
        decision=text,
    )
    if not decided:
        raise Conflict("the application was decided meanwhile")
    if approve:
        await evaluation.recompute(conn, [record.subject_id], calendar=calendar, today=today)


async def _repair_record(
    conn: AsyncConnection, application: RepairRow, record: RecordRow, text: str, *, today: date
) -> None:
    """Set the record REPAIRED and queue record.repaired for the city credit platform."""
    status = await _locked_status(conn, record)
    # The conditions held when it was filed; the record may have changed since (corrected, revoked).
    refusal = repair_refusal(domain_record(record, status), today, commitment=True)
    if refusal is not None:
        raise refused(refusal, "id")
    if not await repair_store.mark_repaired(conn, record.id, reason=f"信用修复：{text}"):
        raise Conflict("the record changed meanwhile")
    payload = {
        "record_id": record.id,
        "subject_id": record.subject_id,
        "repair_id": application.id,
        "status": RecordStatus.REPAIRED.value,
        "repaired_on": today.isoformat(),
        "decision": text,
    }
    await outbox.record_events(conn, [(REPAIRED_TOPIC, record.id, payload)])
