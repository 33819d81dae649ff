"""Credit repair (信用修复): applyRepair, decideRepair and the RepairApplication node.

SH art. 11 and WG art. 21: after correcting the violation and fulfilling its obligations the subject applies. The
national repair rule (NDRC 2025/36) adds when: the minimum publicity window has passed, the violation is corrected
and the penalty fulfilled, and a public credit commitment is made; an approved repair ends publication, sharing and
restriction at once and the evaluations are recomputed. A wage-arrears listing is repaired by early removal
(MOHRSS 45: wages paid, 6 months since, a written commitment). The conditions are ``domain.publicity``'s
``repair_refusal``; a refusal is BAD_USER_INPUT naming the unmet ``condition`` and the ``earliest`` day it can be
met when that depends only on time.

The application's ``statement`` is the subject's signed credit commitment (信用承诺书) unless ``commitment`` says
otherwise, so a client that sends only ``recordId`` and ``statement`` can complete a repair.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from domain.model import Record
from domain.publicity import COMMITMENT_MISSING, RepairRefusal, repair_refusal
from domain.rules import MOHRSS_45_PACK, publicity_regime
from domain.taxonomy import RecordStatus, RecordType, RepairStatus, Severity
from schema.common import Node
from schema.context import Info
from schema.errors import BadUserInput, Conflict, NotFound
from schema.ids import global_id, parse_global_id
from schema.records import CreditRecord
from schema.writing import check_subject, record_for_write, work_calendar
from services.objections import MAX_TEXT, required_text
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


def refused(refusal: RepairRefusal, field: str, *, article: str | None = None) -> BadUserInput:
    """The refusal as an error a client can act on: the unmet condition, the earliest day it can be met, and the
    article that requires it when the client can meet it by changing its input."""
    earliest = refusal.earliest.isoformat() if refusal.earliest else None
    when = f"; earliest {earliest}" if earliest else ""
    cited = f" ({article})" if article else ""
    extra: dict[str, object] = {"article": article} if article else {}
    return BadUserInput(
        f"repair refused ({refusal.condition}): {refusal.reason}{cited}{when}",
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
            "MOHRSS 45). The statement is the subject's signed public (written) credit commitment (信用承诺书); "
            "commitment: false says it makes none. A refusal is BAD_USER_INPUT with extensions.condition and "
            "extensions.earliest; a missing commitment also names extensions.field (statement or commitment) and "
            "extensions.article."
        )
    )
    async def apply_repair(
        self,
        info: Info,
        record_id: strawberry.ID,
        statement: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The signed credit commitment (信用承诺书), with how the violation was corrected and the "
                    f"obligations fulfilled; not blank, at most {MAX_TEXT} characters."
                )
            ),
        ],
        commitment: Annotated[
            bool | None,
            strawberry.argument(
                description=(
                    "Whether the statement makes the credit commitment; omitted or null: it does (the statement "
                    "is the commitment), false: it does not and the repair is refused (COMMITMENT_MISSING)."
                )
            ),
        ] = None,
    ) -> RepairApplication:
        ctx = info.context
        record = await record_for_write(info, record_id)
        text, committed = committed_statement(statement, commitment, record)

        async def write(conn: Any) -> int:
            status = await _locked_status(conn, record)
            if await repair_store.open_for_record(conn, record.id) is not None:
                raise Conflict("a repair application for this record is already waiting for its decision")
            refusal = repair_refusal(domain_record(record, status), ctx.today, commitment=committed)
            if refusal is not None and refusal.condition == COMMITMENT_MISSING:
                raise refused(refusal, "commitment", article=commitment_article(record))
            if refusal is not None:
                raise refused(refusal, "recordId")
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
