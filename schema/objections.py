"""Objections (异议): submitObjection, decideObjection, overdueObjections and the Objection node.

SH art. 10, WG art. 19-20. Adapters of the use cases in services/objections.py, in the request's transaction: the
resolver finds what the caller names through the row rule (the objection's subject, ``CreditRecord.checked``), the
use case checks the rest and writes the record's status change or new version, the objection row, the outbox
events for the city credit platform and the recomputation of grades and restrictions; a failure anywhere rolls all
of it back.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from auth.policy import Rows
from domain import objections as rules
from domain.taxonomy import ObjectionStatus, Severity
from schema.common import Node
from schema.context import Info
from schema.errors import NotFound
from schema.ids import global_id, parse_global_id
from schema.records import CreditRecord
from schema.writing import check_subject, record_for_write, work_calendar
from services import objections as objection_service
from services.texts import required_text
from store import objections as objection_store
from store.objections import ObjectionRow

strawberry.enum(ObjectionStatus)


@strawberry.type(description="异议 (SH art. 10, WG art. 19-20): an objection against a credit record.")
class Objection(Node):
    row: strawberry.Private[ObjectionRow]
    status: ObjectionStatus
    reason: str
    submitted_at: datetime
    needs_external_verification: bool
    received_on: date = strawberry.field(
        description="The day the objection was received; the deadlines count from the day after (民法典 art. 201)."
    )
    due_on: date = strawberry.field(
        description="Decision deadline in working days (3, or 10 when another department verifies)."
    )
    decided_at: datetime | None
    decision: str | None
    push_due_on: date | None = strawberry.field(
        description="Deadline to push the result to the city credit platform (5 working days after the decision)."
    )
    deadlines_provisional: bool = strawberry.field(
        description=(
            "True when a deadline falls in a year whose official holiday schedule is not loaded "
            "(counted Monday to Friday)."
        )
    )

    @classmethod
    def from_row(cls, row: ObjectionRow, info: Info) -> Objection:
        """An objection of a subject the caller may see (``Subject.objections``, or after ``check_subject``)."""
        info.context.seen_subjects.add(row.subject_id)
        return cls(
            row=row,
            id=strawberry.ID(global_id("Objection", row.id)),
            status=ObjectionStatus(row.status),
            reason=row.reason,
            submitted_at=row.submitted_at,
            needs_external_verification=row.needs_external_verification,
            received_on=row.received_on,
            due_on=row.due_on,
            decided_at=row.decided_at,
            decision=row.decision,
            push_due_on=row.push_due_on,
            deadlines_provisional=row.deadlines_provisional,
        )

    @strawberry.field(
        description="When the result reached the city credit platform (the relay pushed its objection.decided event)."
    )
    async def pushed_at(self, info: Info) -> datetime | None:
        if self.row.pushed_at is not None or self.row.decided_at is None:
            return self.row.pushed_at
        return await info.context.loaders.objection_push_by_id.load(self.row.id)

    @strawberry.field
    async def record(self, info: Info) -> CreditRecord:
        row = await info.context.loaders.record_by_id.load(self.row.record_id)
        if row is None:  # a foreign key guarantees it
            raise NotFound("record not found")
        return await CreditRecord.checked(row, info)

    @strawberry.field(
        description="The record as the decision left it: the new version of a correction, or the revoked record."
    )
    async def corrected_record(self, info: Info) -> CreditRecord | None:
        if self.row.corrected_record_id is None:
            return None
        row = await info.context.loaders.record_by_id.load(self.row.corrected_record_id)
        return await CreditRecord.checked(row, info) if row else None


async def load_objection(info: Info, id: strawberry.ID) -> ObjectionRow:
    type_name, pk = parse_global_id(id)
    if type_name != "Objection":
        raise NotFound("no such objection")
    found = await info.context.db.run(lambda conn: objection_store.by_ids(conn, [pk]))
    row = found.get(pk)
    if row is None:
        raise NotFound("no such objection")
    await check_subject(info, row.subject_id)
    return row


@strawberry.input(
    description=(
        "What a decision corrects (WG art. 7: the corrected record is a new version, the old one is kept). "
        "An omitted field keeps its value; null clears it. At least one field must change, unless revoke is true."
    )
)
class RecordCorrectionInput:
    severity: Severity | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    legal_basis: str | None = strawberry.UNSET
    publicity_until: date | None = strawberry.UNSET
    penalty_fulfilled: bool | None = strawberry.UNSET
    corrected_on: date | None = strawberry.UNSET
    details: JSON | None = strawberry.UNSET
    revoke: bool | None = strawberry.field(
        default=False,
        description="The verification found the record should not exist: it is revoked instead of re-issued.",
    )


def _correction(value: RecordCorrectionInput | None) -> objection_service.Correction | None:
    """The input as the use case takes it: only the fields given (UNSET is omitted, null clears)."""
    if value is None:
        return None
    given = {name: getattr(value, name) for name in rules.CORRECTABLE_FIELDS}
    changes = {name: v for name, v in given.items() if v is not strawberry.UNSET}
    return objection_service.Correction(changes=changes, revoke=bool(value.revoke))


@strawberry.type
class ObjectionQueries:
    @strawberry.field(
        description=(
            "Objections with a deadline passed unmet on asOf (default: today): not decided by dueOn "
            "(WG art. 20(1)), or decided and not pushed by pushDueOn (WG art. 20(2))."
        )
    )
    async def overdue_objections(self, info: Info, as_of: date | None = None) -> list[Objection]:
        ctx = info.context
        day = as_of or ctx.today
        rows = await ctx.db.run(lambda conn: objection_store.overdue(conn, day, ctx.rows.subject_scope))
        subjects = await ctx.loaders.subject_by_id.load_many([r.subject_id for r in rows])
        allowed = {s.id for s in subjects if s is not None and ctx.rows.allows_subject(s)}
        return [Objection.from_row(r, info) for r in rows if r.subject_id in allowed]


@strawberry.type
class ObjectionMutations:
    @strawberry.mutation(
        description=(
            "File an objection (WG art. 19, SH art. 10): the record shows UNDER_OBJECTION and every grade and "
            "restriction it drives says disputed until the decision. receivedOn: the day the objection was "
            "received, when an administrator enters one received elsewhere (default: today)."
        )
    )
    async def submit_objection(
        self,
        info: Info,
        record_id: strawberry.ID,
        reason: str,
        needs_external_verification: bool | None = False,
        received_on: date | None = None,
    ) -> Objection:
        ctx = info.context
        # A blank or overlong reason is refused before the record is looked up (the use case checks it too).
        text = required_text(reason, "reason")
        record = await record_for_write(info, record_id)
        pk = await ctx.db.run(
            lambda conn: objection_service.submit_objection(
                conn,
                record,
                text,
                actor=ctx.principal.subject,
                received_on=received_on,
                by_subject=ctx.rows.rows is Rows.OWN_SUBJECT,
                needs_external_verification=bool(needs_external_verification),
                today=ctx.today,
                calendar=work_calendar(info),
            )
        )
        ctx.loaders.record_by_id.clear(record.id)
        return await _reloaded(info, pk)

    @strawberry.mutation(
        description=(
            "Decide an objection (SH art. 10, WG art. 20): correct=true corrects the record (a new version with "
            "what correction changes, or a revocation with correction.revoke; a correction that changes nothing is "
            "BAD_USER_INPUT naming correction), correct=false rejects the objection and the record stands. Grades "
            "and restrictions are recomputed and the result is queued for the city credit platform, due within "
            "5 working days (pushDueOn)."
        )
    )
    async def decide_objection(
        self,
        info: Info,
        id: strawberry.ID,
        correct: bool,
        decision: str,
        correction: RecordCorrectionInput | None = None,
    ) -> Objection:
        ctx = info.context
        # A blank or overlong decision is refused before the objection is looked up (the use case checks it too).
        text = required_text(decision, "decision")
        objection = await load_objection(info, id)
        plain = _correction(correction)
        # A decision the objection's state refuses is refused before the record is looked up.
        objection_service.decided_status(objection, correct=correct, correction=plain)
        record = await record_for_write(info, objection.record_id)
        await ctx.db.run(
            lambda conn: objection_service.decide_objection(
                conn,
                objection,
                record,
                correct=correct,
                decision=text,
                correction=plain,
                actor=ctx.principal.subject,
                today=ctx.today,
                calendar=work_calendar(info),
            )
        )
        ctx.loaders.record_by_id.clear(record.id)
        return await _reloaded(info, objection.id)


async def _reloaded(info: Info, pk: int) -> Objection:
    found = await info.context.db.run(lambda conn: objection_store.by_ids(conn, [pk]))
    return Objection.from_row(found[pk], info)
