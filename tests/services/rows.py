"""Rows as the repositories return them, for the use cases' checks that need no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from domain.taxonomy import ObjectionStatus, RecordCategory, RecordStatus, RecordType, RepairStatus, Severity
from store.objections import ObjectionRow
from store.records import RecordRow
from store.repairs import RepairRow

RECORD = RecordRow(
    id=7,
    subject_id=3,
    version=1,
    category=RecordCategory.DISHONESTY.value,
    type=RecordType.ADMINISTRATIVE_PENALTY.value,
    severity=Severity.GENERAL.value,
    status=RecordStatus.UNDER_OBJECTION.value,
    title="未按规定参加社会保险",
    decision_number="沪人社监罚〔2026〕1号",
    source_unit="市劳动保障监察总队",
    legal_basis="社会保险法第八十四条",
    occurred_on=date(2026, 1, 5),
    decided_on=date(2026, 1, 20),
    publicity_until=None,
    penalty_fulfilled=False,
    corrected_on=None,
    details=None,
    superseded_by_id=None,
    created_at=datetime(2026, 1, 20, 9, 0),
)


def record_row(**changes: Any) -> RecordRow:
    return replace(RECORD, **changes)


def objection_row(status: ObjectionStatus) -> ObjectionRow:
    return ObjectionRow(
        id=11,
        record_id=7,
        subject_id=3,
        status=status.value,
        reason="处罚所依据的事实有误",
        submitted_at=datetime(2026, 2, 27, 10, 0),
        submitted_by="employer",
        received_on=date(2026, 2, 27),
        needs_external_verification=False,
        due_on=date(2026, 3, 4),
        decided_at=None,
        decided_by=None,
        decision=None,
        push_due_on=None,
        pushed_at=None,
        deadlines_provisional=False,
        corrected_record_id=None,
    )


def repair_row(status: RepairStatus) -> RepairRow:
    return RepairRow(
        id=5,
        record_id=7,
        subject_id=3,
        status=status.value,
        statement="已整改并履行处罚决定，承诺守信",
        submitted_at=datetime(2026, 3, 2, 9, 0),
        submitted_by="employer",
        decided_at=None,
        decided_by=None,
        decision=None,
    )
