"""The grade of an employer, WG art. 8-13 and 21 (domain/grading.py)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.grading import (
    GRADE_RULES,
    WG_9,
    WG_10,
    WG_11,
    WG_12_1,
    WG_12_2,
    WG_21,
    breakpoints,
    explain,
    grade_on,
    grade_timeline,
    raise_date,
)
from domain.model import WG, GradeDecision, GradeSegment, Record
from domain.periods import add_months, add_years
from domain.taxonomy import CATEGORY_OF, GradeLevel, RecordCategory, RecordStatus, RecordType, Severity
from domain.workdays import HolidayTable, WorkCalendar

ONE = timedelta(days=1)
CAL = WorkCalendar()
# A calendar that knows 2027 has 元旦 (1 January, a statutory holiday every year) off. Only that day is listed:
# the test needs a known 1 January, not the State Council's full 2027 schedule.
CAL_2027 = WorkCalendar(HolidayTable.from_rows([(date(2027, 1, 1), False)], years=[2027]))
_ids = itertools.count(1)


def rec(
    type_: RecordType,
    decided_on: date,
    *,
    severity: Severity | None = None,
    status: RecordStatus = RecordStatus.ACTIVE,
    details: dict[str, Any] | None = None,
    **kw: Any,
) -> Record:
    if severity is None and CATEGORY_OF[type_] is RecordCategory.DISHONESTY:
        severity = Severity.GENERAL
    return Record(
        id=next(_ids),
        subject_id=1,
        type=type_,
        severity=severity,
        status=status,
        decided_on=decided_on,
        details=MappingProxyType(details or {}),
        **kw,
    )


def penalty(decided_on: date, **kw: Any) -> Record:
    return rec(RecordType.ADMINISTRATIVE_PENALTY, decided_on, **kw)


def designation(decided_on: date, **details: Any) -> Record:
    return rec(RecordType.HARMONIOUS_LABOR_RELATIONS, decided_on, details={"labor_contract_attested": True, **details})


def grade(records: Sequence[Record], day: date, calendar: WorkCalendar = CAL) -> GradeDecision:
    decision = grade_on(records, day, calendar=calendar)
    assert decision is not None
    return decision


# --- WG art. 12(1): a penalty in the last year -------------------------------------------------------------------


def test_wg_art_12_1_c_when_penalty_within_last_year() -> None:
    p = penalty(date(2026, 3, 10))
    d = grade([p], date(2026, 11, 21))
    assert d.level is GradeLevel.C
    assert d.rule == WG_12_1
    assert d.rule.document == WG and d.rule.article == "第十二条第（一）项" and d.rule.short == "WG art. 12(1)"
    assert d.basis == (p.id,)
    assert not d.disputed


def test_wg_art_12_1_last_year_window_closes_after_the_corresponding_day() -> None:
    p = penalty(date(2025, 3, 10))  # never corrected: WG art. 21 keeps the C after the window
    assert grade([p], date(2025, 3, 9)).level is GradeLevel.A
    assert grade([p], date(2025, 3, 10)).rule == WG_12_1
    assert grade([p], date(2026, 3, 9)).rule == WG_12_1
    assert grade([p], date(2026, 3, 10)).rule == WG_12_1
    assert grade([p], date(2026, 3, 11)).rule == WG_21


def test_wg_art_12_1_minor_penalty_still_grades_c() -> None:
    # SH art. 5(2): a minor penalty is not dishonesty information, but it is a penalty for WG art. 12(1).
    p = penalty(date(2026, 3, 10), severity=Severity.MINOR)
    assert grade([p], date(2026, 6, 1)).level is GradeLevel.C


def test_wg_art_12_1_revoked_penalty_never_counts() -> None:
    p = penalty(date(2026, 3, 10), status=RecordStatus.REVOKED, status_changed_on=date(2026, 5, 1))
    assert grade([p], date(2026, 4, 1)).level is GradeLevel.A  # void from the start, also before the revocation
    assert grade([p], date(2026, 6, 1)).level is GradeLevel.A


def test_wg_art_12_1_repaired_penalty_stops_counting_on_the_repair_day() -> None:
    p = penalty(
        date(2026, 3, 10),
        status=RecordStatus.REPAIRED,
        status_changed_on=date(2026, 7, 1),
        corrected_on=date(2026, 4, 1),
        penalty_fulfilled=True,
    )
    assert grade([p], date(2026, 6, 30)).level is GradeLevel.C
    assert grade([p], date(2026, 7, 1)).level is GradeLevel.A
    assert grade([p], date(2026, 7, 2)).level is GradeLevel.A


def test_sh_art_10_penalty_under_objection_counts_and_the_grade_is_disputed() -> None:
    p = penalty(date(2026, 3, 10), status=RecordStatus.UNDER_OBJECTION)
    d = grade([p], date(2026, 6, 1))
    assert d.level is GradeLevel.C and d.disputed


def test_wg_art_12_1_penalty_decided_after_the_as_of_day_does_not_count() -> None:
    p = penalty(date(2026, 3, 10))
    assert grade([p], date(2026, 3, 9)).level is GradeLevel.A


def test_wg_art_12_1_explanation_names_the_penalty_the_window_and_the_article() -> None:
    d = grade([penalty(date(2026, 3, 10))], date(2026, 11, 21))
    assert d.explanation == (
        "该单位于2026年3月10日因违反人社法律法规受到行政处罚（近一年内，计至2027年3月10日），"
        "依据舞人社〔2022〕127号第十二条第（一）项评价为C级（较差）。"
    )
    assert explain(d) == d.explanation


def test_wg_art_12_1_basis_lists_every_penalty_of_the_last_year() -> None:
    a, b = penalty(date(2026, 1, 5)), penalty(date(2026, 3, 10))
    old = penalty(date(2024, 1, 5), corrected_on=date(2024, 2, 1), penalty_fulfilled=True)
    assert grade([b, old, a], date(2026, 6, 1)).basis == (a.id, b.id)


# --- WG art. 12(2): the wage-arrears blacklist -------------------------------------------------------------------


def test_wg_art_12_2_c_while_the_wage_arrears_listing_is_in_force() -> None:
    listing = rec(RecordType.WAGE_ARREARS_BLACKLIST, date(2025, 1, 2), severity=Severity.SERIOUS)
    end = add_years(date(2025, 1, 2), 3)  # MOHRSS 45: 3 years
    assert grade([listing], date(2025, 1, 1)).level is GradeLevel.A
    assert grade([listing], date(2025, 1, 2)).rule == WG_12_2
    assert grade([listing], end - ONE).rule == WG_12_2
    assert grade([listing], end).rule == WG_12_2
    assert grade([listing], end + ONE).level is GradeLevel.A
    assert "列入期限至2028年1月2日" in grade([listing], end).explanation


def test_wg_art_12_2_early_removal_ends_the_c_on_the_removal_day() -> None:
    listing = rec(
        RecordType.WAGE_ARREARS_BLACKLIST,
        date(2025, 1, 2),
        severity=Severity.SERIOUS,
        status=RecordStatus.REPAIRED,
        status_changed_on=date(2026, 2, 1),
        corrected_on=date(2025, 6, 1),
    )
    assert grade([listing], date(2026, 1, 31)).level is GradeLevel.C
    assert grade([listing], date(2026, 2, 1)).level is GradeLevel.A
    assert grade([listing], date(2026, 2, 2)).level is GradeLevel.A


def test_wg_art_12_penalty_item_is_checked_before_the_blacklist_item() -> None:
    p = penalty(date(2026, 3, 10))
    listing = rec(RecordType.WAGE_ARREARS_BLACKLIST, date(2026, 2, 1), severity=Severity.SERIOUS)
    d = grade([listing, p], date(2026, 6, 1))
    assert d.rule == WG_12_1 and d.basis == (p.id,)


# --- WG art. 21 and 13: the raise after the cycle ends -----------------------------------------------------------


def test_wg_art_21_c_is_raised_on_the_first_working_day_after_the_cycle_end() -> None:
    p = penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True)
    raised = CAL_2027.next_working_day(date(2027, 1, 1)).day  # ask the calendar, do not guess
    assert raised > date(2027, 1, 1)
    assert grade([p], date(2026, 3, 10), CAL_2027).rule == WG_12_1
    assert grade([p], date(2026, 3, 11), CAL_2027).rule == WG_21
    assert grade([p], date(2026, 12, 31), CAL_2027).rule == WG_21
    assert grade([p], date(2027, 1, 1), CAL_2027).rule == WG_21  # 元旦: not yet
    assert grade([p], raised - ONE, CAL_2027).level is GradeLevel.C
    assert grade([p], raised, CAL_2027).level is GradeLevel.A
    assert grade([p], raised + ONE, CAL_2027).level is GradeLevel.A
    raise_day = raise_date(p, CAL_2027)
    assert raise_day is not None and raise_day.day == raised


def test_wg_art_21_raise_day_follows_the_official_calendar() -> None:
    # 2026 is in chinesecalendar: the raise is its first working day of 2026, whatever that day is.
    p = penalty(date(2024, 3, 10), corrected_on=date(2024, 6, 1), penalty_fulfilled=True)
    expected = CAL.next_working_day(date(2026, 1, 1))
    assert not expected.provisional
    assert grade([p], date(2025, 12, 31)).rule == WG_21
    assert grade([p], expected.day - ONE).level is GradeLevel.C
    assert grade([p], expected.day).level is GradeLevel.A


def test_wg_art_21_explanation_says_when_the_grade_will_be_adjusted() -> None:
    p = penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True)
    d = grade([p], date(2026, 6, 1), CAL_2027)
    raised = CAL_2027.next_working_day(date(2027, 1, 1)).day
    assert d.basis == (p.id,)
    assert "已于2025年6月1日纠正违法行为并履行处罚决定" in d.explanation
    assert f"于{raised.year}年{raised.month}月{raised.day}日调整" in d.explanation
    assert "第二十一条" in d.explanation


def test_wg_art_21_provisional_raise_day_is_flagged_in_the_explanation() -> None:
    # Without a holiday table for 2027 the calendar counts Monday to Friday and says so.
    p = penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True)
    assert CAL.next_working_day(date(2027, 1, 1)).provisional
    assert "暂按周一至周五计算" in grade([p], date(2026, 6, 1)).explanation


def test_wg_art_21_correction_after_the_window_waits_for_that_cycle_end() -> None:
    p = penalty(date(2025, 3, 10), corrected_on=date(2027, 2, 1), penalty_fulfilled=True)
    raised = CAL.next_working_day(date(2028, 1, 1)).day
    assert grade([p], date(2027, 12, 31)).rule == WG_21
    assert grade([p], raised - ONE).rule == WG_21
    assert grade([p], raised).level is GradeLevel.A


def test_wg_art_21_c_stays_while_the_penalty_is_not_fulfilled() -> None:
    p = penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=False)
    d = grade([p], date(2035, 6, 1))
    assert d.level is GradeLevel.C and d.rule == WG_21
    assert "尚未纠正违法行为或履行处罚决定" in d.explanation


def test_wg_art_21_c_stays_while_the_violation_is_not_corrected() -> None:
    p = penalty(date(2025, 3, 10), penalty_fulfilled=True)
    assert grade([p], date(2035, 6, 1)).rule == WG_21


def test_wg_art_13_the_cycle_is_the_calendar_year() -> None:
    d = grade([], date(2026, 11, 21))
    assert (d.cycle_start, d.cycle_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert d.as_of == date(2026, 11, 21)


# --- WG art. 11: B ----------------------------------------------------------------------------------------------


def test_wg_art_11_b_when_a_violation_was_corrected_within_the_last_year() -> None:
    v = rec(RecordType.VIOLATION_CORRECTED, date(2025, 3, 10))
    assert grade([v], date(2025, 3, 9)).level is GradeLevel.A
    d = grade([v], date(2025, 3, 10))
    assert d.level is GradeLevel.B and d.rule == WG_11 and d.basis == (v.id,)
    assert grade([v], date(2026, 3, 9)).level is GradeLevel.B
    assert grade([v], date(2026, 3, 10)).level is GradeLevel.B
    assert grade([v], date(2026, 3, 11)).level is GradeLevel.A


def test_wg_art_11_b_for_false_materials_or_a_broken_commitment_without_penalty() -> None:
    for type_ in (RecordType.FALSE_MATERIALS, RecordType.BROKEN_COMMITMENT):
        r = rec(type_, date(2026, 3, 10))
        d = grade([r], date(2026, 6, 1))
        assert d.level is GradeLevel.B and d.basis == (r.id,)
        assert "第十一条" in d.explanation


def test_wg_art_11_c_comes_before_b() -> None:
    v = rec(RecordType.VIOLATION_CORRECTED, date(2026, 3, 1))
    p = penalty(date(2026, 3, 10))
    assert grade([v, p], date(2026, 6, 1)).level is GradeLevel.C


# --- WG art. 9: A+ ----------------------------------------------------------------------------------------------


def test_wg_art_9_a_plus_with_an_attested_designation_and_a_clean_60_months() -> None:
    h = designation(date(2024, 5, 1))
    d = grade([h], date(2026, 6, 1))
    assert d.level is GradeLevel.A_PLUS and d.rule == WG_9 and d.basis == (h.id,)
    assert grade([h], date(2024, 4, 30)).level is GradeLevel.A


def test_wg_art_9_2_designation_without_the_labor_contract_attestation_is_a() -> None:
    h = rec(RecordType.HARMONIOUS_LABOR_RELATIONS, date(2024, 5, 1), details={"labor_contract_attested": False})
    plain = rec(RecordType.HARMONIOUS_LABOR_RELATIONS, date(2024, 5, 1))
    assert grade([h], date(2026, 6, 1)).level is GradeLevel.A
    assert grade([plain], date(2026, 6, 1)).level is GradeLevel.A


def test_wg_art_9_designation_ends_after_its_valid_until() -> None:
    h = designation(date(2024, 5, 1), valid_until="2026-04-30")
    assert grade([h], date(2026, 4, 29)).level is GradeLevel.A_PLUS
    assert grade([h], date(2026, 4, 30)).level is GradeLevel.A_PLUS
    assert grade([h], date(2026, 5, 1)).level is GradeLevel.A


def test_wg_art_9_revoked_designation_is_not_a_plus() -> None:
    h = replace(designation(date(2024, 5, 1)), status=RecordStatus.REVOKED, status_changed_on=date(2025, 1, 1))
    assert grade([h], date(2024, 6, 1)).level is GradeLevel.A


def test_wg_art_9_1_lost_arbitration_within_60_months_withholds_a_plus() -> None:
    h = designation(date(2020, 1, 1))
    lost = rec(RecordType.ARBITRATION_LOST, date(2021, 3, 10))
    end = add_months(date(2021, 3, 10), 60)
    assert grade([h, lost], end - ONE).level is GradeLevel.A
    assert grade([h, lost], end).level is GradeLevel.A
    assert grade([h, lost], end + ONE).level is GradeLevel.A_PLUS


def test_wg_art_9_1_any_violation_of_the_last_60_months_withholds_a_plus() -> None:
    h = designation(date(2020, 1, 1))
    for type_ in (
        RecordType.ADMINISTRATIVE_PENALTY,
        RecordType.WAGE_ARREARS_BLACKLIST,
        RecordType.VIOLATION_CORRECTED,
        RecordType.FALSE_MATERIALS,
        RecordType.BROKEN_COMMITMENT,
    ):
        r = rec(type_, date(2022, 3, 10), corrected_on=date(2022, 4, 1), penalty_fulfilled=True)
        assert grade([h, r], date(2026, 6, 1)).level is GradeLevel.A, type_


def test_wg_art_9_1_a_judgment_defaulter_is_not_a_labor_violation() -> None:
    h = designation(date(2024, 5, 1))
    defaulter = rec(RecordType.JUDGMENT_DEFAULTER, date(2025, 1, 1), severity=Severity.SERIOUS)
    assert grade([h, defaulter], date(2026, 6, 1)).level is GradeLevel.A_PLUS


def test_wg_art_10_a_withheld_from_a_plus_by_a_disputed_record_is_disputed() -> None:
    h = designation(date(2020, 1, 1))
    lost = rec(RecordType.ARBITRATION_LOST, date(2023, 3, 10), status=RecordStatus.UNDER_OBJECTION)
    d = grade([h, lost], date(2026, 6, 1))
    assert d.level is GradeLevel.A and d.basis == () and d.disputed


def test_wg_art_9_disputed_designation_makes_the_a_plus_disputed() -> None:
    h = replace(designation(date(2024, 5, 1)), status=RecordStatus.UNDER_OBJECTION)
    d = grade([h], date(2026, 6, 1))
    assert d.level is GradeLevel.A_PLUS and d.disputed


# --- WG art. 10: A ----------------------------------------------------------------------------------------------


def test_wg_art_10_a_otherwise() -> None:
    d = grade([], date(2026, 6, 1))
    assert d.level is GradeLevel.A and d.rule == WG_10 and d.basis == () and not d.disputed
    assert (
        d.explanation
        == "该单位在近一年内未被发现有违反人社法律法规行为，依据舞人社〔2022〕127号第十条评价为A级（良好）。"
    )


def test_wg_art_10_interviews_awards_and_lost_arbitration_do_not_lower_the_grade() -> None:
    records = [
        rec(RecordType.INTERVIEW, date(2026, 3, 1)),
        rec(RecordType.AWARD, date(2026, 3, 1)),
        rec(RecordType.ARBITRATION_LOST, date(2026, 3, 1)),
        rec(RecordType.JUDGMENT_DEFAULTER, date(2026, 3, 1), severity=Severity.SERIOUS),
    ]
    assert grade(records, date(2026, 6, 1)).level is GradeLevel.A


# --- WG art. 8, 22: the grade in time ---------------------------------------------------------------------------


def test_wg_art_22_no_grade_before_2022_12_15() -> None:
    p = penalty(date(2022, 6, 1))
    assert grade_on([p], date(2022, 12, 14), calendar=CAL) is None
    assert grade([p], date(2022, 12, 15)).level is GradeLevel.C  # a penalty before WG still counts in the window
    assert grade([p], date(2022, 12, 16)).level is GradeLevel.C


def test_wg_art_8_a_past_as_of_day_reproduces_the_grade_of_that_day() -> None:
    records = [
        rec(RecordType.VIOLATION_CORRECTED, date(2024, 2, 1)),
        penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True),
    ]
    assert grade(records, date(2023, 6, 1)).level is GradeLevel.A
    assert grade(records, date(2024, 6, 1)).level is GradeLevel.B
    assert grade(records, date(2025, 6, 1)).level is GradeLevel.C


def test_wg_art_8_rule_table_is_checked_in_the_order_c_b_a_plus_a() -> None:
    assert [r.level for r in GRADE_RULES] == [
        GradeLevel.C,
        GradeLevel.C,
        GradeLevel.C,
        GradeLevel.B,
        GradeLevel.A_PLUS,
        GradeLevel.A,
    ]
    assert [r.citation.short for r in GRADE_RULES] == [
        "WG art. 12(1)",
        "WG art. 12(2)",
        "WG art. 21",
        "WG art. 11",
        "WG art. 9",
        "WG art. 10",
    ]
    assert all(r.citation.document == WG and r.citation.text for r in GRADE_RULES)


def test_wg_art_8_timeline_merges_equal_decisions_and_ends_open() -> None:
    p = penalty(date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True)
    segments = grade_timeline([p], start=date(2022, 1, 1), end=date(2028, 12, 31), calendar=CAL_2027)
    raised = CAL_2027.next_working_day(date(2027, 1, 1)).day
    assert [(s.valid_from, s.valid_to, s.decision.level, s.decision.rule.short) for s in segments] == [
        (date(2022, 12, 15), date(2025, 3, 10), GradeLevel.A, "WG art. 10"),
        (date(2025, 3, 10), date(2026, 3, 11), GradeLevel.C, "WG art. 12(1)"),
        (date(2026, 3, 11), raised, GradeLevel.C, "WG art. 21"),
        (raised, None, GradeLevel.A, "WG art. 10"),
    ]


def test_wg_art_8_timeline_continues_past_end_so_the_open_segment_is_right_for_every_later_day() -> None:
    v = rec(RecordType.VIOLATION_CORRECTED, date(2026, 3, 10))
    segments = grade_timeline([v], start=date(2026, 1, 1), end=date(2026, 6, 1), calendar=CAL)
    assert segments[-1].valid_to is None and segments[-1].decision.level is GradeLevel.A
    assert segments[-1].valid_from == date(2027, 3, 11)


# --- Properties: a grade is a function of the records and the date alone ----------------------------------------

_TYPES = list(RecordType)
_STATUSES = list(RecordStatus)


@st.composite
def record_sets(
    draw: st.DrawFn, types: Sequence[RecordType] = _TYPES, attested: Sequence[bool] = (False, True)
) -> list[Record]:
    n = draw(st.integers(min_value=0, max_value=6))
    out = []
    for i in range(n):
        type_ = draw(st.sampled_from(types))
        decided = draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 12, 31)))
        status = draw(st.sampled_from(_STATUSES))
        changed = (
            draw(st.dates(min_value=decided, max_value=decided + timedelta(days=900)))
            if status in (RecordStatus.REPAIRED, RecordStatus.REVOKED)
            else None
        )
        corrected = draw(st.none() | st.dates(min_value=decided, max_value=decided + timedelta(days=800)))
        details: dict[str, Any] = {}
        if type_ is RecordType.HARMONIOUS_LABOR_RELATIONS:
            details["labor_contract_attested"] = draw(st.sampled_from(attested))
            if draw(st.booleans()):
                details["valid_until"] = (decided + timedelta(days=draw(st.integers(0, 2000)))).isoformat()
        severity = draw(st.sampled_from(list(Severity))) if CATEGORY_OF[type_] is RecordCategory.DISHONESTY else None
        out.append(
            Record(
                id=i + 1,
                subject_id=1,
                type=type_,
                severity=severity,
                status=status,
                decided_on=decided,
                penalty_fulfilled=draw(st.none() | st.booleans()),
                corrected_on=corrected,
                status_changed_on=changed,
                details=MappingProxyType(details),
            )
        )
    return out


as_of_days = st.dates(min_value=date(2022, 1, 1), max_value=date(2036, 12, 31))


def _key(d: GradeDecision | None) -> tuple[Any, ...] | None:
    return None if d is None else (d.level, d.rule, d.basis, d.disputed)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_sets(), as_of_days, st.randoms(use_true_random=False))
def test_wg_art_8_grade_is_a_function_of_the_records_and_the_date_alone(
    records: list[Record], day: date, rnd: random.Random
) -> None:
    shuffled = list(records)
    rnd.shuffle(shuffled)
    assert grade_on(records, day, calendar=CAL) == grade_on(shuffled, day, calendar=CAL)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(record_sets(), st.lists(as_of_days, min_size=1, max_size=8))
def test_wg_art_8_grade_on_agrees_with_grade_timeline(records: list[Record], days: list[date]) -> None:
    start, end = date(2022, 1, 1), date(2031, 12, 31)
    segments = grade_timeline(records, start=start, end=end, calendar=CAL)
    # ordered, contiguous where grading is in force, ends open
    for a, b in itertools.pairwise(segments):
        assert a.valid_to == b.valid_from
        assert _key(a.decision) != _key(b.decision)
    assert segments and segments[-1].valid_to is None
    assert segments[0].valid_from == date(2022, 12, 15)
    for s in segments:
        assert _key(grade_on(records, s.valid_from, calendar=CAL)) == _key(s.decision)
    for day in days:
        found = [s for s in segments if s.valid_from <= day and (s.valid_to is None or day < s.valid_to)]
        expected = grade_on(records, day, calendar=CAL)
        if expected is None:
            assert found == []
        else:
            assert len(found) == 1
            assert _key(found[0].decision) == _key(expected)
            if found[0].valid_to is not None:
                last = found[0].valid_to - ONE
                assert _key(grade_on(records, last, calendar=CAL)) == _key(expected)


def _reference_timeline(
    records: Sequence[Record], start: date, end: date, calendar: WorkCalendar
) -> list[GradeSegment]:
    """The timeline computed the plain way: ``grade_on`` on every day of ``breakpoints``, equal decisions merged."""
    points = sorted({start} | {p for p in breakpoints(records, calendar=calendar) if p > start})
    runs: list[tuple[date, GradeDecision | None]] = []
    for p in points:
        decision = grade_on(records, p, calendar=calendar)
        if not runs or _key(runs[-1][1]) != _key(decision):
            runs.append((p, decision))
    return [
        GradeSegment(valid_from=p, valid_to=runs[i + 1][0] if i + 1 < len(runs) else None, decision=decision)
        for i, (p, decision) in enumerate(runs)
        if decision is not None
    ]


# The record types the rules read, designations mostly attested: WG art. 9 holds and is withheld often.
_GRADED_TYPES = [
    RecordType.ADMINISTRATIVE_PENALTY,
    RecordType.WAGE_ARREARS_BLACKLIST,
    RecordType.VIOLATION_CORRECTED,
    RecordType.FALSE_MATERIALS,
    RecordType.ARBITRATION_LOST,
    RecordType.HARMONIOUS_LABOR_RELATIONS,
    RecordType.HARMONIOUS_LABOR_RELATIONS,
    RecordType.AWARD,
]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    record_sets() | record_sets(_GRADED_TYPES, (True, True, True, False)),
    st.dates(min_value=date(2021, 1, 1), max_value=date(2031, 12, 31)),
    st.integers(min_value=0, max_value=4000),
    st.sampled_from([CAL, CAL_2027]),
)
def test_wg_art_8_timeline_equals_grade_on_on_every_breakpoint(
    records: list[Record], start: date, length: int, calendar: WorkCalendar
) -> None:
    # grade_timeline decides only on the breakpoints the rules read and explains only the first day of each run;
    # the segments, with their decisions and explanations, are those of grading every breakpoint.
    end = start + timedelta(days=length)
    assert grade_timeline(records, start=start, end=end, calendar=calendar) == _reference_timeline(
        records, start, end, calendar
    )
