"""Credit repair (信用修复): applyRepair, decideRepair and the RepairApplication node.

SH art. 11 and WG art. 21: after correcting the violation and fulfilling its obligations the subject applies. The
national repair rule (NDRC 2025/36) adds when: the minimum publicity window has passed, the violation is corrected
and the penalty fulfilled, and a public credit commitment is made; an approved repair ends publication, sharing and
restriction at once and the evaluations are recomputed. A wage-arrears listing is repaired by early removal
(MOHRSS 45: wages paid, 6 months since, a written commitment). The conditions are ``domain.publicity``'s
``repair_refusal``; a refusal is BAD_USER_INPUT naming the unmet ``condition`` and the ``earliest`` day it can be
met when that depends only on time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry

from domain.model import Record
from domain.publicity import COMMITMENT_MISSING, RepairRefusal, repair_refusal
from domain.taxonomy import RecordStatus, RecordType, RepairStatus, Severity
from schema.common import Node
from schema.context import Info
from schema.errors import BadUserInput, Conflict, NotFound
from schema.ids import global_id, parse_global_id
from schema.objections import check_subject, record_for_write, required_text, work_calendar
from schema.records import CreditRecord
from store import evaluation, outbox
from store import repairs as repair_store
from store.records import RecordRow
from store.repairs import RepairRow

strawberry.enum(RepairStatus)

REPAIRED_TOPIC = "record.repaired"


@strawberry.type(description="信用修复 (SH art. 11, WG art. 21, NDRC 2025/36): an application to repair a record.")
class RepairApplication(Node):
    row: strawberry.Private[RepairRow]
    status: RepairStatus
    statement: str
    submitted_at: datetime
    decided_at: datetime | None
    decision: str | None

    @classmethod
    def from_row(cls, row: RepairRow, info: Info) -> RepairApplication:
        """An application of a subject the caller may see (``Subject.repairs``, or after ``check_subject``)."""
        info.context.seen_subjects.add(row.subject_id)
        return cls(
            row=row,
            id=strawberry.ID(global_id("RepairApplication", row.id)),
            status=RepairStatus(row.status),
            statement=row.statement,
            submitted_at=row.submitted_at,
            decided_at=row.decided_at,
            decision=row.decision,
        )

    @strawberry.field
    async def record(self, info: Info) -> CreditRecord:
        row = await info.context.loaders.record_by_id.load(self.row.record_id)
        if row is None:  # a foreign key guarantees it
            raise NotFound("record not found")
        return await CreditRecord.checked(row, info)


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


def refused(refusal: RepairRefusal, field: str) -> BadUserInput:
    """The refusal as an error a client can act on: the unmet condition and the earliest day it can be met."""
    earliest = refusal.earliest.isoformat() if refusal.earliest else None
    when = f"; earliest {earliest}" if earliest else ""
    return BadUserInput(
        f"repair refused ({refusal.condition}): {refusal.reason}{when}",
        field=field,
        condition=refusal.condition,
        earliest=earliest,
    )


async def _locked_status(conn: Any, row: RecordRow) -> str:
    locked = await repair_store.lock_record(conn, row.id)
    if locked is None:  # records are never deleted
        raise NotFound("no such record")
    status, superseded_by = locked
    if status == RecordStatus.UNDER_OBJECTION.value:
        raise Conflict("an objection against this record is being handled: the repair waits for its decision")
    return RecordStatus.CORRECTED.value if superseded_by is not None else status


async def _reloaded(info: Info, pk: int) -> RepairApplication:
    found = await info.context.db.run(lambda conn: repair_store.by_ids(conn, [pk]))
    return RepairApplication.from_row(found[pk], info)


@strawberry.type
class RepairMutations:
    @strawberry.mutation(
        description=(
            "Apply to repair a dishonesty record (SH art. 11, NDRC 2025/36; a wage-arrears listing: early removal, "
            "MOHRSS 45). commitment: the statement contains a public (written) credit commitment. A refusal is "
            "BAD_USER_INPUT with extensions.condition and extensions.earliest."
        )
    )
    async def apply_repair(
        self, info: Info, record_id: strawberry.ID, statement: str, commitment: bool | None = None
    ) -> RepairApplication:
        ctx = info.context
        text = required_text(statement, "statement")
        record = await record_for_write(info, record_id)

        async def write(conn: Any) -> int:
            status = await _locked_status(conn, record)
            if await repair_store.open_for_record(conn, record.id) is not None:
                raise Conflict("a repair application for this record is already waiting for its decision")
            refusal = repair_refusal(domain_record(record, status), ctx.today, commitment=bool(commitment))
            if refusal is not None:
                raise refused(refusal, "commitment" if refusal.condition == COMMITMENT_MISSING else "recordId")
            return await repair_store.insert(
                conn,
                record_id=record.id,
                subject_id=record.subject_id,
                statement=text,
                submitted_by=ctx.principal.subject,
            )

        pk = await ctx.db.run(write)
        return await _reloaded(info, pk)

    @strawberry.mutation(
        description=(
            "Decide a repair application: approval sets the record REPAIRED, which ends its publication, sharing "
            "and restrictions at once, recomputes the grade and queues record.repaired for the city credit "
            "platform; a rejection keeps the record."
        )
    )
    async def decide_repair(self, info: Info, id: strawberry.ID, approve: bool, decision: str) -> RepairApplication:
        ctx = info.context
        text = required_text(decision, "decision")
        type_name, pk = parse_global_id(id)
        found = (
            await ctx.db.run(lambda conn: repair_store.by_ids(conn, [pk])) if type_name == "RepairApplication" else {}
        )
        application = found.get(pk)
        if application is None:
            raise NotFound("no such repair application")
        await check_subject(info, application.subject_id)
        if application.status not in repair_store.OPEN:
            raise Conflict(f"the application is already decided ({application.status})")
        record = await record_for_write(info, application.record_id)
        today: date = ctx.today

        async def write(conn: Any) -> None:
            if approve:
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
            decided = await repair_store.decide(
                conn,
                application.id,
                status=(RepairStatus.APPROVED if approve else RepairStatus.REJECTED).value,
                decided_by=ctx.principal.subject,
                decision=text,
            )
            if not decided:
                raise Conflict("the application was decided meanwhile")
            if approve:
                await evaluation.recompute(conn, [record.subject_id], calendar=work_calendar(info), today=today)

        await ctx.db.run(write)
        ctx.loaders.record_by_id.clear(record.id)
        return await _reloaded(info, application.id)
