"""What the objection and repair resolvers share: the work calendar, and the row rule for what a write names.

A write reaches a record or a subject the caller names; it may act only on what the caller may see, and the audit
entry names the subjects it reached.
"""

from __future__ import annotations

import strawberry

from domain.workdays import WorkCalendar
from schema.context import Info
from schema.errors import Forbidden, NotFound
from schema.ids import parse_global_id
from schema.records import CreditRecord
from store.records import RecordRow


def work_calendar(info: Info) -> WorkCalendar:
    """The official working-day calendar plus the bureau's holiday table, loaded at start-up."""
    calendar: WorkCalendar = info.context.request.app.state.work_calendar
    return calendar


async def record_for_write(info: Info, record_id: strawberry.ID | int, field: str = "recordId") -> RecordRow:
    """The record a write names (a global id, or a primary key already known), after the row rule: NOT_FOUND when
    there is none, FORBIDDEN when the caller may not see it (an employer: another subject's record)."""
    if isinstance(record_id, int):
        type_name, pk = "CreditRecord", record_id
    else:
        type_name, pk = parse_global_id(record_id, field=field)
    row = await info.context.loaders.record_by_id.load(pk) if type_name == "CreditRecord" else None
    if row is None:
        raise NotFound("no such record")
    await CreditRecord.checked(row, info)
    return row


async def check_subject(info: Info, subject_id: int) -> None:
    """The row rule for an objection or repair reached directly (by id, or in a list): its subject must be one the
    caller may see."""
    if not await may_see_subject(info, subject_id):
        raise Forbidden("Forbidden: this subject is outside what the caller may see")


async def may_see_subject(info: Info, subject_id: int) -> bool:
    """Whether the subject is one the caller may see (then the audit entry names it)."""
    subject = await info.context.loaders.subject_by_id.load(subject_id)
    if subject is None or not info.context.rows.allows_subject(subject):
        return False
    info.context.seen_subjects.add(subject_id)
    return True
