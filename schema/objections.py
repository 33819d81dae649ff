"""Objections (异议): submitObjection, decideObjection, overdueObjections and the Objection node.

SH art. 10, WG art. 19-20 (see ``domain.objections``). Every write runs in the request's transaction: the checks
first (scope by the audience's compiled schema, the row rule through ``CreditRecord.checked``), then the record's
status change or new version, the objection row, the recomputation of grades and restrictions, and the outbox
events for the city credit platform; a failure anywhere rolls all of it back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from auth.policy import Rows
from domain import objections as rules
from domain.records import RecordDraft, check_draft
from domain.taxonomy import ObjectionStatus, RecordStatus, RecordType, Severity
from schema.common import Node
from schema.context import Info
from schema.errors import BadUserInput, Conflict, NotFound
from schema.ids import global_id, parse_global_id
from schema.records import CreditRecord
from schema.writing import check_subject, record_for_write, required_text, work_calendar
from schema.writing import may_see_subject as may_see_subject  # re-exported: schema/build.py imports it from here
from store import evaluation, imports, outbox
from store import objections as objection_store
from store.objections import ObjectionRow
from store.records import RecordRow, content_digest

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


def _draft(row: RecordRow) -> RecordDraft:
    return RecordDraft(
        type=RecordType(row.type),
        category=None,
        severity=Severity(row.severity) if row.severity else None,
        title=row.title,
        decision_number=row.decision_number,
        source_unit=row.source_unit,
        legal_basis=row.legal_basis,
        occurred_on=row.occurred_on,
        decided_on=row.decided_on,
        publicity_until=row.publicity_until,
        penalty_fulfilled=row.penalty_fulfilled,
        corrected_on=row.corrected_on,
        details=row.details,
    )


def corrected_content(row: RecordRow, correction: RecordCorrectionInput | None, *, today: date) -> dict[str, Any]:
    """The content of the new version, checked like an imported record; BAD_USER_INPUT names ``correction.<field>``,
    or ``correction`` when the correction changes nothing."""
    changes: dict[str, Any] = {}
    if correction is not None:
        for name in sorted(rules.CORRECTABLE_FIELDS):
            value = getattr(correction, name)
            if value is not strawberry.UNSET:
                changes[name] = value
    if "title" in changes and not (changes["title"] or "").strip():
        raise BadUserInput("correction.title must not be empty", field="correction.title")
    draft = rules.corrected_draft(_draft(row), changes)
    content = imports.draft_content(draft)
    # Compared as stored (trimmed text, enum values): an objection decided as corrected must have changed the
    # record, or the objector is told "corrected" about a record re-issued as it was.
    current = imports.draft_content(_draft(row))
    if content == current:
        unchanged = [f"correction.{to_camel_case(name)}" for name in changes]
        named = f" ({', '.join(unchanged)} already as given)" if unchanged else ""
        raise BadUserInput(
            f"correction changes nothing in the record{named}: a decision that upholds the objection (SH art. 10) "
            "must name what it corrects, or revoke the record with correction.revoke",
            field="correction",
            unchanged=unchanged,
        )
    problems = check_draft(draft, today=today)
    if problems:
        first = problems[0]
        raise BadUserInput(
            f"correction.{first.field}: {first.message}",
            field=f"correction.{first.field}",
            errors=[{"field": f"correction.{p.field}", "message": p.message} for p in problems],
        )
    return content


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


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
        text = required_text(reason, "reason")
        record = await record_for_write(info, record_id)
        if received_on is not None and ctx.rows.rows is Rows.OWN_SUBJECT and received_on != ctx.today:
            raise BadUserInput(
                "an employer's objection is received the day it is filed: receivedOn is for the bureau",
                field="receivedOn",
            )
        received = received_on or ctx.today
        refusal = rules.receipt_refusal(received, today=ctx.today, record_decided_on=record.decided_on)
        if refusal:
            raise BadUserInput(refusal, field="receivedOn")
        conflict = rules.filing_refusal(RecordStatus(record.status), superseded=record.superseded_by_id is not None)
        if conflict:
            raise Conflict(conflict)
        deadline = rules.decision_deadline(
            work_calendar(info), received, needs_external_verification=bool(needs_external_verification)
        )

        async def write(conn: Any) -> int:
            changed = await objection_store.change_record_status(
                conn, record.id, from_status="ACTIVE", to_status="UNDER_OBJECTION", reason=f"异议：{text}"
            )
            if not changed:  # another request changed the record meanwhile
                raise Conflict("the record changed meanwhile (an objection is already being handled, or it was closed)")
            pk = await objection_store.insert(
                conn,
                record_id=record.id,
                subject_id=record.subject_id,
                reason=text,
                submitted_by=ctx.principal.subject,
                received_on=received,
                needs_external_verification=bool(needs_external_verification),
                due_on=deadline.day,
                deadlines_provisional=deadline.provisional,
            )
            await evaluation.recompute(conn, [record.subject_id], calendar=work_calendar(info), today=ctx.today)
            return pk

        pk = await ctx.db.run(write)
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
        text = required_text(decision, "decision")
        objection = await load_objection(info, id)
        try:
            status = rules.decision_status(ObjectionStatus(objection.status), correct=correct)
        except rules.TransitionRefused as refused:
            raise Conflict(str(refused)) from None
        if correction is not None and not correct:
            raise BadUserInput("a rejected objection corrects nothing: omit correction", field="correction")
        record = await record_for_write(info, objection.record_id)
        if record.status != RecordStatus.UNDER_OBJECTION.value or record.superseded_by_id is not None:
            raise Conflict(f"the record is {record.status}, not under objection")
        revoke = bool(correction is not None and correction.revoke)
        content = corrected_content(record, correction, today=ctx.today) if correct and not revoke else None
        push = rules.push_deadline(work_calendar(info), ctx.today)
        provisional = objection.deadlines_provisional or push.provisional
        base = {"record_id": record.id, "subject_id": record.subject_id, "objection_id": objection.id}

        async def write(conn: Any) -> None:
            events: list[tuple[str, int, dict[str, Any]]] = []
            result_id: int | None = None
            if not correct:
                moved = await objection_store.change_record_status(
                    conn, record.id, from_status="UNDER_OBJECTION", to_status="ACTIVE", reason=f"异议不成立：{text}"
                )
            elif revoke:
                moved = await objection_store.change_record_status(
                    conn,
                    record.id,
                    from_status="UNDER_OBJECTION",
                    to_status="REVOKED",
                    reason=f"异议成立，撤销：{text}",
                )
                result_id = record.id
                events.append(("record.revoked", record.id, {**base, "status": "REVOKED", "reason": text}))
            else:
                assert content is not None
                result_id = await objection_store.correct_record(
                    conn,
                    record.id,
                    content,
                    digest=content_digest(content),
                    actor=ctx.principal.subject,
                    reason=f"异议成立，更正：{text}",
                )
                moved = result_id is not None
                if result_id is not None:
                    payload = {
                        **{k: _iso(v) for k, v in content.items()},
                        **base,
                        "record_id": result_id,
                        "previous_version_id": record.id,
                        "version": record.version + 1,
                        "status": "ACTIVE",
                    }
                    events.append(("record.corrected", result_id, payload))
            if not moved:
                raise Conflict("the record changed meanwhile")
            decided = await objection_store.decide(
                conn,
                objection.id,
                status=status.value,
                decided_by=ctx.principal.subject,
                decision=text,
                push_due_on=push.day,
                deadlines_provisional=provisional,
                corrected_record_id=result_id,
            )
            if not decided:
                raise Conflict("the objection was decided meanwhile")
            events.append(
                (
                    objection_store.DECIDED_TOPIC,
                    objection.id,
                    {
                        **base,
                        "status": status.value,
                        "decision": text,
                        "decided_on": ctx.today.isoformat(),
                        "corrected_record_id": result_id,
                        "push_due_on": push.day.isoformat(),
                    },
                )
            )
            await outbox.record_events(conn, events)
            await evaluation.recompute(conn, [record.subject_id], calendar=work_calendar(info), today=ctx.today)

        await ctx.db.run(write)
        ctx.loaders.record_by_id.clear(record.id)
        return await _reloaded(info, objection.id)


async def _reloaded(info: Info, pk: int) -> Objection:
    found = await info.context.db.run(lambda conn: objection_store.by_ids(conn, [pk]))
    return Objection.from_row(found[pk], info)
