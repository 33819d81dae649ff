"""Objections (异议): file one against a credit record, decide it (correct, revoke or reject the objection).

SH art. 10, WG art. 19-20 (see ``domain.objections``). Filing puts the record UNDER_OBJECTION and records the
objection with its decision deadline; deciding sets the record ACTIVE again (rejected), revokes it, or replaces it
by a corrected version (WG art. 7: the old one is kept), closes the objection with its push deadline and queues the
result for the city credit platform (outbox). Both recompute the grades and restrictions of the record's subject.

The caller hands over the objection and the record as the row rule let it see them; a use case checks the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domain import objections as rules
from domain.records import RecordDraft, check_draft
from domain.taxonomy import ObjectionStatus, RecordStatus, RecordType, Severity
from domain.workdays import WorkCalendar
from services.errors import BadUserInput, Conflict
from services.texts import required_text
from store import evaluation, imports, outbox
from store import objections as objection_store
from store.objections import ObjectionRow
from store.records import RecordRow, content_digest

Event = tuple[str, int, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Correction:
    """What a decision that upholds an objection corrects: ``changes`` holds the fields given (names of
    ``domain.objections.CORRECTABLE_FIELDS``) with their new value, None clearing one; ``revoke`` revokes the
    record instead of issuing a corrected version."""

    changes: Mapping[str, Any] = field(default_factory=dict)
    revoke: bool = False


async def submit_objection(
    conn: AsyncConnection,
    record: RecordRow,
    reason: str,
    *,
    actor: str,
    received_on: date | None,
    by_subject: bool,
    needs_external_verification: bool,
    today: date,
    calendar: WorkCalendar,
) -> int:
    """File an objection against the record (WG art. 19, SH art. 10): the record becomes UNDER_OBJECTION, so every
    grade and restriction it drives says disputed until the decision; the new objection's id.

    ``received_on`` defaults to today; ``by_subject`` says the subject itself files (an employer), whose objection
    is received the day it is filed."""
    text = required_text(reason, "reason")
    if received_on is not None and by_subject and received_on != today:
        raise BadUserInput(
            "an employer's objection is received the day it is filed: receivedOn is for the bureau",
            field="receivedOn",
        )
    received = received_on or today
    refusal = rules.receipt_refusal(received, today=today, record_decided_on=record.decided_on)
    if refusal:
        raise BadUserInput(refusal, field="receivedOn")
    conflict = rules.filing_refusal(RecordStatus(record.status), superseded=record.superseded_by_id is not None)
    if conflict:
        raise Conflict(conflict)
    deadline = rules.decision_deadline(calendar, received, needs_external_verification=needs_external_verification)
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
        submitted_by=actor,
        received_on=received,
        needs_external_verification=needs_external_verification,
        due_on=deadline.day,
        deadlines_provisional=deadline.provisional,
    )
    await evaluation.recompute(conn, [record.subject_id], calendar=calendar, today=today)
    return pk


def decided_status(objection: ObjectionRow, *, correct: bool, correction: Correction | None) -> ObjectionStatus:
    """The status the decision moves the objection to: CONFLICT when it is decided already, BAD_USER_INPUT when a
    rejection names a correction. It needs no record, so a caller can refuse the decision before it looks the
    record up."""
    try:
        status = rules.decision_status(ObjectionStatus(objection.status), correct=correct)
    except rules.TransitionRefused as refused:
        raise Conflict(str(refused)) from None
    if correction is not None and not correct:
        raise BadUserInput("a rejected objection corrects nothing: omit correction", field="correction")
    return status


@dataclass(frozen=True, slots=True)
class _Decision:
    """A decision checked against the objection and its record, ready to be written."""

    objection: ObjectionRow
    record: RecordRow
    status: ObjectionStatus
    text: str
    revoke: bool
    content: dict[str, Any] | None  # the corrected version's, when the decision issues one
    push: rules.Deadline

    @property
    def base(self) -> dict[str, Any]:
        """What every event of the decision names."""
        return {"record_id": self.record.id, "subject_id": self.record.subject_id, "objection_id": self.objection.id}


async def decide_objection(
    conn: AsyncConnection,
    objection: ObjectionRow,
    record: RecordRow,
    *,
    correct: bool,
    decision: str,
    correction: Correction | None,
    actor: str,
    today: date,
    calendar: WorkCalendar,
) -> None:
    """Decide the objection against ``record`` (SH art. 10, WG art. 20): correct=True corrects the record (a new
    version with what ``correction`` changes, or a revocation), correct=False rejects the objection and the record
    stands. The result is queued for the city credit platform, due within 5 working days."""
    checked = _checked_decision(
        objection, record, correct=correct, decision=decision, correction=correction, today=today, calendar=calendar
    )
    result_id, events = await _settle_record(conn, checked, actor=actor)
    events.append(await _close_objection(conn, checked, result_id, actor=actor, today=today))
    await outbox.record_events(conn, events)
    await evaluation.recompute(conn, [record.subject_id], calendar=calendar, today=today)


def _checked_decision(
    objection: ObjectionRow,
    record: RecordRow,
    *,
    correct: bool,
    decision: str,
    correction: Correction | None,
    today: date,
    calendar: WorkCalendar,
) -> _Decision:
    text = required_text(decision, "decision")
    status = decided_status(objection, correct=correct, correction=correction)
    if record.status != RecordStatus.UNDER_OBJECTION.value or record.superseded_by_id is not None:
        raise Conflict(f"the record is {record.status}, not under objection")
    revoke = correction is not None and correction.revoke
    content = corrected_content(record, correction, today=today) if correct and not revoke else None
    push = rules.push_deadline(calendar, today)
    return _Decision(objection, record, status, text, revoke=revoke, content=content, push=push)


async def _settle_record(conn: AsyncConnection, decision: _Decision, *, actor: str) -> tuple[int | None, list[Event]]:
    """What the decision does to the record: ACTIVE again, REVOKED, or replaced by the corrected version. The id of
    the record as the decision leaves it (None when the objection is rejected) and the events that says."""
    record, text = decision.record, decision.text
    if decision.status is ObjectionStatus.REJECTED:
        moved = await objection_store.change_record_status(
            conn, record.id, from_status="UNDER_OBJECTION", to_status="ACTIVE", reason=f"异议不成立：{text}"
        )
        result: tuple[int | None, list[Event]] = (None, [])
    elif decision.revoke:
        moved = await objection_store.change_record_status(
            conn, record.id, from_status="UNDER_OBJECTION", to_status="REVOKED", reason=f"异议成立，撤销：{text}"
        )
        payload = {**decision.base, "status": "REVOKED", "reason": text}
        result = (record.id, [("record.revoked", record.id, payload)])
    else:
        content = decision.content
        assert content is not None
        new_id = await objection_store.correct_record(
            conn, record.id, content, digest=content_digest(content), actor=actor, reason=f"异议成立，更正：{text}"
        )
        moved = new_id is not None
        events = [] if new_id is None else [("record.corrected", new_id, _corrected_payload(decision, new_id))]
        result = (new_id, events)
    if not moved:
        raise Conflict("the record changed meanwhile")
    return result


def _corrected_payload(decision: _Decision, new_id: int) -> dict[str, Any]:
    assert decision.content is not None
    return {
        **{k: _iso(v) for k, v in decision.content.items()},
        **decision.base,
        "record_id": new_id,
        "previous_version_id": decision.record.id,
        "version": decision.record.version + 1,
        "status": "ACTIVE",
    }


async def _close_objection(
    conn: AsyncConnection, decision: _Decision, result_id: int | None, *, actor: str, today: date
) -> Event:
    """Record the decision on the objection, with its push deadline; the event that queues it for the platform."""
    objection, push = decision.objection, decision.push
    decided = await objection_store.decide(
        conn,
        objection.id,
        status=decision.status.value,
        decided_by=actor,
        decision=decision.text,
        push_due_on=push.day,
        deadlines_provisional=objection.deadlines_provisional or push.provisional,
        corrected_record_id=result_id,
    )
    if not decided:
        raise Conflict("the objection was decided meanwhile")
    payload = {
        **decision.base,
        "status": decision.status.value,
        "decision": decision.text,
        "decided_on": today.isoformat(),
        "corrected_record_id": result_id,
        "push_due_on": push.day.isoformat(),
    }
    return (objection_store.DECIDED_TOPIC, objection.id, payload)


def corrected_content(row: RecordRow, correction: Correction | None, *, today: date) -> dict[str, Any]:
    """The content of the new version, checked like an imported record; BAD_USER_INPUT names ``correction.<field>``,
    or ``correction`` when the correction changes nothing."""
    given = correction.changes if correction is not None else {}
    changes = {name: given[name] for name in sorted(given)}
    if "title" in changes and not (changes["title"] or "").strip():
        raise BadUserInput("correction.title must not be empty", field="correction.title")
    draft = rules.corrected_draft(_draft(row), changes)
    content = imports.draft_content(draft)
    # Compared as stored (trimmed text, enum values): an objection decided as corrected must have changed the
    # record, or the objector is told "corrected" about a record re-issued as it was.
    if content == imports.draft_content(_draft(row)):
        unchanged = [f"correction.{_camel(name)}" for name in changes]
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


def _camel(name: str) -> str:
    """The GraphQL name of a correction's field, as the client wrote it."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
