"""Tests for domain.objections: objection deadlines in working days (WG art. 20), counted per 民法典 art. 201, the
states an objection goes through (SH art. 10), corrections as new versions (WG art. 7) and breaches.

The 2026 dates are looked up in the WorkCalendar (chinesecalendar 1.11.0), never assumed; the first two tests pin
the facts the others rely on:

* National Day 2026: 2026-10-01 (Thu) to 2026-10-07 (Wed) off; make-up working day Sat 2026-10-10.
* Spring Festival 2026: 2026-02-15 (Sun) to 2026-02-23 (Mon) off; make-up working days Sat 2026-02-14 and
  Sat 2026-02-28.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import objections as rules
from domain.model import SH, WG
from domain.records import RecordDraft, check_draft
from domain.taxonomy import ObjectionStatus, RecordStatus, RecordType, Severity
from domain.workdays import HolidayTable, WorkCalendar

CAL = WorkCalendar()
modest = settings(max_examples=200, database=None, deadline=None)


def nth_working_day_after(start: date, n: int, calendar: WorkCalendar = CAL) -> date:
    """The n-th working day after ``start``, by walking the calendar one day at a time (independent of the
    implementation under test)."""
    day, found = start, 0
    while found < n:
        day += timedelta(days=1)
        if calendar.is_working_day(day)[0]:
            found += 1
    return day


def off_days(start: date, end: date) -> list[date]:
    return [
        d for d in (start + timedelta(days=i) for i in range((end - start).days + 1)) if not CAL.is_working_day(d)[0]
    ]


def test_calendar_national_day_2026_as_used_below() -> None:
    assert off_days(date(2026, 9, 30), date(2026, 10, 11)) == [
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 3),
        date(2026, 10, 4),
        date(2026, 10, 5),
        date(2026, 10, 6),
        date(2026, 10, 7),
        date(2026, 10, 11),
    ]
    assert date(2026, 10, 10).weekday() == 5 and CAL.is_working_day(date(2026, 10, 10)) == (True, False)


def test_calendar_spring_festival_2026_as_used_below() -> None:
    assert off_days(date(2026, 2, 13), date(2026, 3, 1)) == [
        *(date(2026, 2, 15) + timedelta(days=i) for i in range(9)),
        date(2026, 3, 1),  # a Sunday
    ]
    for make_up in (date(2026, 2, 14), date(2026, 2, 28)):
        assert make_up.weekday() == 5 and CAL.is_working_day(make_up) == (True, False)


# --- WG art. 20(1): the decision deadline ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "external", "due"),
    [
        # National Day: 3 working days after Wed 30 Sep are Thu 8, Fri 9 and the make-up Sat 10 October.
        (date(2026, 9, 30), False, date(2026, 10, 10)),
        # 10 working days: 8, 9, 10 (Sat), 12-16, 19, 20 October.
        (date(2026, 9, 30), True, date(2026, 10, 20)),
        # Spring Festival: after Fri 13 Feb come the make-up Sat 14, then Tue 24 and Wed 25 February.
        (date(2026, 2, 13), False, date(2026, 2, 25)),
        # 10 working days: 14 (Sat), 24-27, 28 (Sat), 2-5 March.
        (date(2026, 2, 13), True, date(2026, 3, 5)),
    ],
)
def test_wg_art_20_1_decision_deadline_across_national_day_and_spring_festival_2026(
    received: date, external: bool, due: date
) -> None:
    deadline = rules.decision_deadline(CAL, received, needs_external_verification=external)
    assert deadline.day == due == nth_working_day_after(received, 10 if external else 3)
    assert deadline.provisional is False
    assert deadline.rule is (rules.DECIDE_AFTER_VERIFICATION if external else rules.DECIDE)


def test_wg_art_20_1_three_working_days_or_ten_when_another_department_verifies() -> None:
    assert (rules.DECIDE.working_days, rules.DECIDE_AFTER_VERIFICATION.working_days) == (3, 10)
    assert rules.DECIDE.counted_from == rules.DECIDE_AFTER_VERIFICATION.counted_from == "receipt"
    assert rules.DECIDE.citation.short == "WG art. 20(1)" and rules.DECIDE.citation.document == WG


def test_wg_art_20_1_the_day_of_receipt_is_not_counted_civil_code_art_201() -> None:
    # Received on a Monday of an ordinary week: due on Thursday, not Wednesday.
    assert rules.decision_deadline(CAL, date(2026, 11, 16), needs_external_verification=False).day == date(2026, 11, 19)


def test_wg_art_20_1_received_on_a_holiday_counts_from_the_next_working_day() -> None:
    deadline = rules.decision_deadline(CAL, date(2026, 10, 3), needs_external_verification=False)
    assert deadline.day == date(2026, 10, 10)


# --- WG art. 20(2): the push deadline --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided", "push"),
    [
        (date(2026, 9, 30), date(2026, 10, 13)),  # 8, 9, 10 (Sat), 12, 13 October
        (date(2026, 2, 13), date(2026, 2, 27)),  # 14 (Sat), 24, 25, 26, 27 February
    ],
)
def test_wg_art_20_2_push_within_five_working_days_of_the_decision(decided: date, push: date) -> None:
    deadline = rules.push_deadline(CAL, decided)
    assert deadline.day == push == nth_working_day_after(decided, 5)
    assert deadline.provisional is False and deadline.rule is rules.PUSH
    assert rules.PUSH.citation.short == "WG art. 20(2)" and rules.PUSH.working_days == 5


# --- provisional deadlines --------------------------------------------------------------------------------------


def test_wg_art_20_a_deadline_in_a_year_without_an_official_schedule_is_provisional() -> None:
    assert not CAL.covers(2027)
    deadline = rules.decision_deadline(CAL, date(2027, 3, 1), needs_external_verification=False)
    assert deadline == rules.Deadline(date(2027, 3, 4), True, rules.DECIDE)  # Monday to Friday until loaded


def test_wg_art_20_a_deadline_that_runs_into_an_unknown_year_is_provisional() -> None:
    # Tue 29 Dec 2026: 30, 31 December 2026 are known, 1 January 2027 only guessed (Friday).
    assert rules.decision_deadline(CAL, date(2026, 12, 29), needs_external_verification=False).provisional
    assert not rules.decision_deadline(CAL, date(2026, 12, 24), needs_external_verification=False).provisional
    assert rules.push_deadline(CAL, date(2026, 12, 28)).provisional


def test_wg_art_20_a_loaded_holiday_table_makes_the_year_official() -> None:
    # Made-up test data in the shape of a State Council notice (no 2027 schedule exists yet): 1 January off.
    table = HolidayTable.from_rows([(date(2027, 1, 1), False)], years=[2027])
    calendar = WorkCalendar(table)
    deadline = rules.decision_deadline(calendar, date(2026, 12, 29), needs_external_verification=False)
    assert deadline == rules.Deadline(date(2027, 1, 4), False, rules.DECIDE)


@modest
@given(
    received=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    external=st.booleans(),
)
def test_wg_art_20_deadlines_never_land_on_a_non_working_day_and_come_after_receipt(
    received: date, external: bool
) -> None:
    due = rules.decision_deadline(CAL, received, needs_external_verification=external)
    push = rules.push_deadline(CAL, due.day)
    for deadline, start in ((due, received), (push, due.day)):
        assert deadline.day > start
        assert CAL.is_working_day(deadline.day)[0]
        counted = [start + timedelta(days=i) for i in range(1, (deadline.day - start).days + 1)]
        assert sum(CAL.is_working_day(d)[0] for d in counted) == deadline.rule.working_days
        assert deadline.provisional == any(not CAL.covers(d.year) for d in counted)


# --- SH art. 10: states ------------------------------------------------------------------------------------------


def test_sh_art_10_an_open_objection_is_decided_corrected_or_rejected() -> None:
    for current in (ObjectionStatus.SUBMITTED, ObjectionStatus.VERIFYING):
        assert rules.is_open(current)
        assert rules.decision_status(current, correct=True) is ObjectionStatus.CORRECTED
        assert rules.decision_status(current, correct=False) is ObjectionStatus.REJECTED


@pytest.mark.parametrize("decided", [ObjectionStatus.CORRECTED, ObjectionStatus.REJECTED])
def test_sh_art_10_a_decided_objection_is_not_decided_again(decided: ObjectionStatus) -> None:
    assert not rules.is_open(decided)
    assert rules.TRANSITIONS[decided] == frozenset()
    with pytest.raises(rules.TransitionRefused, match="already decided"):
        rules.decision_status(decided, correct=True)


def test_wg_art_20_1_verification_by_another_department_is_a_state_before_the_decision() -> None:
    assert ObjectionStatus.VERIFYING in rules.TRANSITIONS[ObjectionStatus.SUBMITTED]
    assert ObjectionStatus.SUBMITTED not in rules.TRANSITIONS[ObjectionStatus.VERIFYING]


def test_sh_art_10_one_objection_at_a_time_and_only_against_the_current_version() -> None:
    assert rules.filing_refusal(RecordStatus.ACTIVE, superseded=False) is None
    assert "already being handled" in (rules.filing_refusal(RecordStatus.UNDER_OBJECTION, superseded=False) or "")
    assert "corrected" in (rules.filing_refusal(RecordStatus.CORRECTED, superseded=True) or "")
    assert "corrected" in (rules.filing_refusal(RecordStatus.ACTIVE, superseded=True) or "")
    assert "revoked" in (rules.filing_refusal(RecordStatus.REVOKED, superseded=False) or "")
    assert "repaired" in (rules.filing_refusal(RecordStatus.REPAIRED, superseded=False) or "")


def test_wg_art_20_1_receipt_is_not_in_the_future_nor_before_the_record() -> None:
    today = date(2026, 11, 21)
    assert rules.receipt_refusal(today, today=today, record_decided_on=date(2026, 3, 2)) is None
    assert "future" in (rules.receipt_refusal(date(2026, 11, 22), today=today, record_decided_on=today) or "")
    assert "before" in (rules.receipt_refusal(date(2026, 3, 1), today=today, record_decided_on=date(2026, 3, 2)) or "")


# --- WG art. 7: a correction is a new version --------------------------------------------------------------------

DRAFT = RecordDraft(
    type=RecordType.ADMINISTRATIVE_PENALTY,
    category=None,
    severity=Severity.GENERAL,
    title="一般程序行政处罚",
    decision_number="沪人社监罚〔2026〕1号",
    source_unit="上海市人力资源和社会保障局执法总队",
    legal_basis="《劳动保障监察条例》第二十六条",
    occurred_on=None,
    decided_on=date(2026, 6, 1),
    publicity_until=date(2026, 12, 1),
    penalty_fulfilled=None,
    corrected_on=None,
    details={"amount_yuan": 20000},
)


def test_wg_art_7_a_correction_replaces_only_what_it_corrects() -> None:
    corrected = rules.corrected_draft(DRAFT, {"severity": Severity.MINOR, "publicity_until": None})
    assert corrected.severity is Severity.MINOR and corrected.publicity_until is None
    assert (corrected.decision_number, corrected.title, corrected.decided_on) == (
        DRAFT.decision_number,
        DRAFT.title,
        DRAFT.decided_on,
    )
    assert DRAFT.severity is Severity.GENERAL  # the old version is untouched
    assert check_draft(corrected, today=date(2026, 11, 21)) == []


def test_wg_art_7_the_identity_of_a_decision_is_not_corrected() -> None:
    assert "decided_on" not in rules.CORRECTABLE_FIELDS and "decision_number" not in rules.CORRECTABLE_FIELDS
    with pytest.raises(ValueError, match="not correctable: decision_number, type"):
        rules.corrected_draft(DRAFT, {"type": RecordType.AWARD, "decision_number": "x"})


def test_sh_art_5_a_corrected_record_is_checked_like_any_record() -> None:
    corrected = rules.corrected_draft(DRAFT, {"severity": Severity.SERIOUS, "legal_basis": None})
    assert [p.field for p in check_draft(corrected, today=date(2026, 11, 21))] == ["legalBasis", "publicityUntil"]


# --- breaches ----------------------------------------------------------------------------------------------------

DUE = date(2026, 10, 10)
PUSH_DUE = date(2026, 10, 19)


def test_wg_art_20_1_undecided_after_the_due_day_is_overdue() -> None:
    assert not rules.is_overdue(due_on=DUE, decided_on=None, push_due_on=None, pushed_on=None, as_of=DUE)
    assert rules.is_overdue(due_on=DUE, decided_on=None, push_due_on=None, pushed_on=None, as_of=date(2026, 10, 11))


def test_wg_art_20_1_deciding_on_the_due_day_is_in_time_and_a_late_decision_stays_a_breach() -> None:
    assert not rules.is_overdue(
        due_on=DUE, decided_on=DUE, push_due_on=PUSH_DUE, pushed_on=PUSH_DUE, as_of=date(2026, 12, 1)
    )
    late = date(2026, 10, 12)
    assert rules.is_overdue(due_on=DUE, decided_on=late, push_due_on=PUSH_DUE, pushed_on=late, as_of=date(2026, 12, 1))


def test_wg_art_20_2_decided_but_not_pushed_after_the_push_deadline_is_overdue() -> None:
    decided = date(2026, 10, 9)
    kwargs = {"due_on": DUE, "decided_on": decided, "push_due_on": PUSH_DUE}
    assert not rules.is_overdue(**kwargs, pushed_on=None, as_of=PUSH_DUE)
    assert rules.is_overdue(**kwargs, pushed_on=None, as_of=PUSH_DUE + timedelta(days=1))
    assert not rules.is_overdue(**kwargs, pushed_on=PUSH_DUE, as_of=date(2026, 12, 1))
    assert rules.is_overdue(**kwargs, pushed_on=PUSH_DUE + timedelta(days=1), as_of=date(2026, 12, 1))


def test_wg_art_20_a_decision_after_the_as_of_day_had_not_happened_on_it() -> None:
    assert rules.is_overdue(
        due_on=DUE, decided_on=date(2026, 11, 1), push_due_on=None, pushed_on=None, as_of=date(2026, 10, 20)
    )


# --- the table of rules ------------------------------------------------------------------------------------------


def test_every_objection_rule_cites_sh_or_wg_with_its_article() -> None:
    keys = [r.key for r in rules.OBJECTION_RULES]
    assert len(keys) == len(set(keys))
    assert {r.name for r in rules.DEADLINE_RULES} <= set(keys)
    for rule in rules.OBJECTION_RULES:
        assert rule.citation.document in (SH, WG)
        assert rule.citation.article.startswith("第") and rule.citation.short and rule.citation.text
