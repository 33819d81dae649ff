"""Tests for domain.workdays: deadlines in working days (WG art. 20, 21) counted per 民法典 art. 201-203.

The 2026 facts below were read from chinesecalendar 1.11.0 (``chinese_calendar.is_workday`` and
``get_holiday_detail``) and agree with the State Council's 2026 notice:

* Spring Festival: 2026-02-15 (Sun) to 2026-02-23 (Mon) off; make-up working days Sat 2026-02-14 and Sat 2026-02-28.
* Mid-Autumn: 2026-09-25 (Fri) to 2026-09-27 (Sun) off.
* National Day: 2026-10-01 (Thu) to 2026-10-07 (Wed) off; make-up working days Sun 2026-09-20 and Sat 2026-10-10.

The 2031 table below is made-up test data (no official 2031 schedule exists yet); it only has the shape of one.
"""

from __future__ import annotations

import datetime
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.workdays import HolidayTable, WorkCalendar, WorkingDay

CAL = WorkCalendar()
LAST_LIBRARY_YEAR = 2026

# No example database: nothing is written into the working tree, and runs stay reproducible by seed.
modest = settings(max_examples=200, database=None, deadline=None)

# Hypothetical 2031 National Day notice: Wed 1 to Tue 7 October off (Sat 4 and Sun 5 are weekends anyway),
# make-up working days Sun 28 September and Sat 11 October.
TABLE_2031 = HolidayTable.from_rows(
    [
        (date(2031, 9, 28), True),
        (date(2031, 10, 1), False),
        (date(2031, 10, 2), False),
        (date(2031, 10, 3), False),
        (date(2031, 10, 6), False),
        (date(2031, 10, 7), False),
        (date(2031, 10, 11), True),
    ],
    years=[2031],
)


def _days(start: date, end: date) -> list[date]:
    """Every day in (start, end]."""
    return [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]


# --- the 2026 facts, read from the library rather than assumed ---------------------------------------------------


def test_chinesecalendar_2026_schedule_as_asserted_below() -> None:
    off = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)] + [
        date(2026, 9, 25),
        date(2026, 9, 26),
        date(2026, 9, 27),
    ]
    off += [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]
    for day in off:
        assert not chinese_calendar.is_workday(day), day
    for day in (date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)):
        assert day.weekday() >= 5
        assert chinese_calendar.is_workday(day), day


# --- WG art. 20 / 21 across the National Day and Mid-Autumn 2026 holidays ---------------------------------------


def test_wg_art_20_three_working_days_across_national_day_2026() -> None:
    # Received Wed 30 Sep, the last working day before the holiday: Thu 8, Fri 9, Sat 10 Oct (make-up day).
    assert CAL.working_days_after(date(2026, 9, 30), 3) == WorkingDay(date(2026, 10, 10), provisional=False)


def test_wg_art_20_objection_received_on_first_day_of_national_day_2026() -> None:
    # Received on the holiday Thu 1 Oct: counting starts the next day, the holiday days are skipped.
    assert CAL.working_days_after(date(2026, 10, 1), 3) == WorkingDay(date(2026, 10, 10), provisional=False)
    assert CAL.working_days_after(date(2026, 10, 7), 1) == WorkingDay(date(2026, 10, 8), provisional=False)


def test_wg_art_20_make_up_saturday_counts_national_day_2026() -> None:
    # Received Fri 9 Oct: Sat 10 Oct is a make-up working day, so one working day later is that Saturday.
    assert CAL.working_days_after(date(2026, 10, 9), 1).day == date(2026, 10, 10)
    # and a make-up Sunday: received Fri 18 Sep, the next working day is Sun 20 Sep.
    assert CAL.working_days_after(date(2026, 9, 18), 1).day == date(2026, 9, 20)
    assert CAL.working_days_after(date(2026, 9, 18), 3).day == date(2026, 9, 22)


def test_wg_art_20_push_within_five_working_days_across_national_day_2026() -> None:
    # Oct 8, 9, 10 (Sat, make-up), 12, 13.
    assert CAL.working_days_after(date(2026, 9, 30), 5) == WorkingDay(date(2026, 10, 13), provisional=False)


def test_wg_art_20_ten_working_days_when_another_department_verifies_national_day_2026() -> None:
    # Oct 8, 9, 10, 12, 13, 14, 15, 16, 19, 20.
    assert CAL.working_days_after(date(2026, 9, 30), 10) == WorkingDay(date(2026, 10, 20), provisional=False)


def test_wg_art_20_three_working_days_across_mid_autumn_2026() -> None:
    # Received Thu 24 Sep; Fri 25 to Sun 27 Sep off: Mon 28, Tue 29, Wed 30.
    assert CAL.working_days_after(date(2026, 9, 24), 3) == WorkingDay(date(2026, 9, 30), provisional=False)


def test_wg_art_21_grade_raised_within_five_working_days_after_cycle_ends_2026() -> None:
    # A cycle ending on Wed 30 Sep 2026: the grade must be adjusted by Tue 13 Oct.
    assert CAL.working_days_after(date(2026, 9, 30), 5).day == date(2026, 10, 13)


def test_national_day_2026_classification_around_the_holiday() -> None:
    assert CAL.is_working_day(date(2026, 9, 30)) == (True, False)  # the day before the holiday
    assert CAL.is_working_day(date(2026, 10, 1)) == (False, False)  # first holiday day, a Thursday
    assert CAL.is_working_day(date(2026, 10, 7)) == (False, False)  # last holiday day, a Wednesday
    assert CAL.is_working_day(date(2026, 10, 8)) == (True, False)  # the day after
    assert CAL.is_working_day(date(2026, 10, 10)) == (True, False)  # make-up Saturday
    assert CAL.is_working_day(date(2026, 10, 11)) == (False, False)  # the Sunday after it: an ordinary weekend
    assert CAL.is_working_day(date(2026, 9, 20)) == (True, False)  # make-up Sunday
    assert CAL.is_working_day(date(2026, 9, 25)) == (False, False)  # Mid-Autumn, a Friday


# --- WG art. 20 across the Spring Festival 2026 -----------------------------------------------------------------


def test_wg_art_20_three_working_days_across_spring_festival_2026() -> None:
    # Received Fri 13 Feb: Sat 14 Feb (make-up), then 15-23 Feb off, then Tue 24, Wed 25.
    assert CAL.working_days_after(date(2026, 2, 13), 3) == WorkingDay(date(2026, 2, 25), provisional=False)


def test_wg_art_20_objection_received_on_make_up_saturday_before_spring_festival_2026() -> None:
    # Sat 14 Feb is the last working day before the holiday; it is not counted itself (民法典 art. 201).
    assert CAL.working_days_after(date(2026, 2, 14), 3) == WorkingDay(date(2026, 2, 26), provisional=False)


def test_wg_art_20_objection_received_on_first_day_of_spring_festival_2026() -> None:
    assert CAL.working_days_after(date(2026, 2, 15), 3) == WorkingDay(date(2026, 2, 26), provisional=False)


def test_wg_art_20_make_up_saturday_counts_spring_festival_2026() -> None:
    assert CAL.working_days_after(date(2026, 2, 13), 1).day == date(2026, 2, 14)
    # Five working days from Sat 14 Feb: 24, 25, 26, 27 and Sat 28 Feb (the second make-up day).
    assert CAL.working_days_after(date(2026, 2, 14), 5) == WorkingDay(date(2026, 2, 28), provisional=False)


def test_wg_art_20_ten_working_days_across_spring_festival_2026() -> None:
    # 24, 25, 26, 27, 28 Feb, 2, 3, 4, 5, 6 Mar.
    assert CAL.working_days_after(date(2026, 2, 14), 10) == WorkingDay(date(2026, 3, 6), provisional=False)


def test_spring_festival_2026_classification_around_the_holiday() -> None:
    assert CAL.is_working_day(date(2026, 2, 13)) == (True, False)
    assert CAL.is_working_day(date(2026, 2, 14)) == (True, False)  # make-up Saturday
    assert CAL.is_working_day(date(2026, 2, 15)) == (False, False)  # first holiday day
    assert CAL.is_working_day(date(2026, 2, 16)) == (False, False)  # a Monday off
    assert CAL.is_working_day(date(2026, 2, 23)) == (False, False)  # last holiday day, a Monday
    assert CAL.is_working_day(date(2026, 2, 24)) == (True, False)  # the day after
    assert CAL.is_working_day(date(2026, 2, 28)) == (True, False)  # make-up Saturday
    assert CAL.is_working_day(date(2026, 3, 1)) == (False, False)  # an ordinary Sunday


# --- 民法典 art. 201: the day of receipt is not counted -----------------------------------------------------------


def test_civil_code_art_201_receipt_on_friday_three_working_days_is_wednesday() -> None:
    assert date(2026, 6, 5).weekday() == 4  # a Friday in an ordinary week
    assert CAL.working_days_after(date(2026, 6, 5), 3) == WorkingDay(date(2026, 6, 10), provisional=False)


def test_civil_code_art_201_receipt_on_a_working_day_is_not_counted() -> None:
    assert CAL.working_days_after(date(2026, 6, 8), 1).day == date(2026, 6, 9)


def test_civil_code_art_201_zero_working_days_is_the_start_itself() -> None:
    assert CAL.working_days_after(date(2026, 10, 3), 0) == WorkingDay(date(2026, 10, 3), provisional=False)
    assert CAL.working_days_after(date(2031, 10, 3), 0) == WorkingDay(date(2031, 10, 3), provisional=True)


def test_civil_code_art_201_negative_period_is_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        CAL.working_days_after(date(2026, 6, 5), -1)


# --- 民法典 art. 203: a period ending on a holiday ends on the next working day -----------------------------------


def test_civil_code_art_203_period_end_on_a_saturday() -> None:
    assert CAL.next_working_day(date(2026, 6, 6)) == WorkingDay(date(2026, 6, 8), provisional=False)
    assert CAL.period_end(date(2026, 6, 6)) == WorkingDay(date(2026, 6, 8), provisional=False)


def test_civil_code_art_203_period_end_on_a_holiday() -> None:
    assert CAL.period_end(date(2026, 10, 1)) == WorkingDay(date(2026, 10, 8), provisional=False)
    assert CAL.period_end(date(2026, 2, 15)) == WorkingDay(date(2026, 2, 24), provisional=False)


def test_civil_code_art_203_period_end_on_a_working_day_is_that_day() -> None:
    assert CAL.next_working_day(date(2026, 6, 8)) == WorkingDay(date(2026, 6, 8), provisional=False)
    assert CAL.period_end(date(2026, 10, 10)) == WorkingDay(date(2026, 10, 10), provisional=False)  # make-up day


# --- years beyond the library: Monday-Friday, flagged provisional ------------------------------------------------


def test_uncovered_years_never_crash_and_count_monday_to_friday_provisionally() -> None:
    for year in (1990, 2003, 2031, 2100):
        assert not CAL.covers(year)
    assert CAL.covers(2004)
    assert CAL.covers(LAST_LIBRARY_YEAR)
    assert CAL.is_working_day(date(2031, 10, 1)) == (True, True)  # a Wednesday; surely a holiday, but unknown
    assert CAL.is_working_day(date(2031, 10, 4)) == (False, True)  # a Saturday
    assert CAL.is_working_day(date(1990, 1, 1)) == (True, True)
    assert CAL.is_working_day(date(2100, 1, 1)) == (True, True)
    # Tue 30 Sep 2031 + 3: Wed 1, Thu 2, Fri 3 Oct.
    assert CAL.working_days_after(date(2031, 9, 30), 3) == WorkingDay(date(2031, 10, 3), provisional=True)
    assert CAL.period_end(date(2031, 10, 4)) == WorkingDay(date(2031, 10, 6), provisional=True)


def test_wg_art_20_deadline_from_covered_into_uncovered_year_is_provisional() -> None:
    # Wed 30 Dec 2026 + 3: Thu 31 Dec (known), then Fri 1 and Mon 4 Jan 2027 (guessed): provisional.
    assert CAL.working_days_after(date(2026, 12, 30), 3) == WorkingDay(date(2027, 1, 4), provisional=True)
    assert CAL.working_days_after(date(2026, 12, 29), 1) == WorkingDay(date(2026, 12, 30), provisional=False)


def test_loaded_holiday_table_makes_2031_official() -> None:
    cal = WorkCalendar(TABLE_2031)
    assert cal.covers(2031)
    assert not cal.covers(2032)
    assert cal.is_working_day(date(2031, 10, 1)) == (False, False)  # the holiday does not count
    assert cal.is_working_day(date(2031, 10, 11)) == (True, False)  # the make-up Saturday counts
    assert cal.is_working_day(date(2031, 10, 12)) == (False, False)  # an ordinary Sunday
    assert cal.is_working_day(date(2031, 10, 8)) == (True, False)  # an unlisted weekday
    # Tue 30 Sep + 5: Wed 8, Thu 9, Fri 10, Sat 11 (make-up), Mon 13 Oct.
    assert cal.working_days_after(date(2031, 9, 30), 5) == WorkingDay(date(2031, 10, 13), provisional=False)
    # Fri 26 Sep + 1: the make-up Sunday 28 Sep.
    assert cal.working_days_after(date(2031, 9, 26), 1) == WorkingDay(date(2031, 9, 28), provisional=False)
    assert cal.period_end(date(2031, 10, 1)) == WorkingDay(date(2031, 10, 8), provisional=False)
    # Without the table the same deadline is a Monday-Friday guess.
    assert CAL.working_days_after(date(2031, 9, 30), 5) == WorkingDay(date(2031, 10, 7), provisional=True)


def test_loaded_holiday_table_leaves_other_years_to_chinesecalendar() -> None:
    cal = WorkCalendar(TABLE_2031)
    assert cal.working_days_after(date(2026, 9, 30), 3) == WorkingDay(date(2026, 10, 10), provisional=False)
    assert cal.is_working_day(date(2030, 10, 1)) == (True, True)


def test_holiday_table_overrides_chinesecalendar_for_a_covered_year() -> None:
    # Suppose the bureau corrects 2026: Fri 9 Oct also off, Sat 10 Oct no make-up day.
    table = HolidayTable.from_rows(
        [(date(2026, 10, 1) + timedelta(days=i), False) for i in range(7)]
        + [(date(2026, 10, 9), False), (date(2026, 10, 10), False)],
        years=[2026],
    )
    cal = WorkCalendar(table)
    assert cal.covers(2026)
    assert cal.is_working_day(date(2026, 10, 10)) == (False, False)
    assert cal.is_working_day(date(2026, 10, 9)) == (False, False)
    # Wed 30 Sep + 3: Thu 8, Mon 12, Tue 13 Oct.
    assert cal.working_days_after(date(2026, 9, 30), 3) == WorkingDay(date(2026, 10, 13), provisional=False)
    # The table fully covers 2026: an unlisted day is Monday-Friday, even where chinesecalendar says otherwise.
    assert cal.is_working_day(date(2026, 2, 16)) == (True, False)
    assert cal.is_working_day(date(2026, 2, 14)) == (False, False)


# --- the holiday table itself ------------------------------------------------------------------------------------


def test_holiday_table_empty_covers_nothing() -> None:
    assert HolidayTable.empty().years == frozenset()
    assert dict(HolidayTable.empty().days) == {}
    assert WorkCalendar(HolidayTable.empty()).working_days_after(date(2026, 9, 30), 3).day == date(2026, 10, 10)


def test_holiday_table_rejects_a_row_outside_its_years() -> None:
    with pytest.raises(ValueError, match="outside the covered years"):
        HolidayTable.from_rows([(date(2032, 1, 1), False)], years=[2031])


def test_holiday_table_rejects_contradicting_rows() -> None:
    with pytest.raises(ValueError, match="both"):
        HolidayTable.from_rows([(date(2031, 10, 1), False), (date(2031, 10, 1), True)], years=[2031])
    same = HolidayTable.from_rows([(date(2031, 10, 1), False), (date(2031, 10, 1), False)], years=[2031])
    assert dict(same.days) == {date(2031, 10, 1): False}


def test_holiday_table_rejects_datetimes_and_non_bool_answers() -> None:
    with pytest.raises(TypeError):
        HolidayTable.from_rows([(datetime.datetime(2031, 10, 1), False)], years=[2031])
    with pytest.raises(TypeError):
        HolidayTable(days={date(2031, 10, 1): 0}, years=frozenset({2031}))  # type: ignore[dict-item]


def test_holiday_table_is_not_changed_by_its_source_dict() -> None:
    source = {date(2031, 10, 1): False}
    table = HolidayTable(days=source, years=frozenset({2031}))
    source[date(2031, 10, 2)] = False
    assert dict(table.days) == {date(2031, 10, 1): False}


def test_broken_holiday_table_with_no_working_day_raises_instead_of_looping() -> None:
    # Two whole years off: more than any run of holidays the guard lets through.
    all_off = [date(2031, 1, 1) + timedelta(days=i) for i in range(365 + 366)]
    cal = WorkCalendar(HolidayTable.from_rows([(d, False) for d in all_off], years=[2031, 2032]))
    with pytest.raises(ValueError, match="no working day"):
        cal.working_days_after(date(2030, 12, 31), 1)


def test_counting_past_the_last_date_raises_instead_of_looping() -> None:
    assert CAL.working_days_after(date(9999, 12, 30), 1).day == date(9999, 12, 31)
    with pytest.raises(ValueError, match="end of the calendar"):
        CAL.working_days_after(date(9999, 12, 31), 1)


def test_is_working_day_rejects_a_datetime() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime.datetime(2026, 10, 1, 12, 0))


def test_answers_are_cached_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = chinese_calendar.is_workday

    def counting(day: date) -> bool:
        nonlocal calls
        calls += 1
        return bool(original(day))

    monkeypatch.setattr(chinese_calendar, "is_workday", counting)
    cal = WorkCalendar()
    for _ in range(50):
        cal.working_days_after(date(2025, 1, 1), 400)  # about 1.6 years of counting, 50 times
    assert calls == 365 + 365  # 2025 and 2026 asked once each, day by day


# --- properties --------------------------------------------------------------------------------------------------


@modest
@given(st.dates(date(2004, 1, 1), date(2040, 12, 31)), st.integers(min_value=1, max_value=30))
def test_civil_code_art_201_exactly_n_working_days_after_start(start: date, n: int) -> None:
    result = CAL.working_days_after(start, n)
    assert result.day > start
    assert CAL.is_working_day(result.day)[0]
    window = _days(start, result.day)
    assert sum(CAL.is_working_day(d)[0] for d in window) == n
    assert result.provisional == any(not CAL.covers(d.year) for d in window)
    # Counting n days at once is counting them one by one.
    assert CAL.working_days_after(CAL.working_days_after(start, n - 1).day, 1).day == result.day


@modest
@given(st.dates(date(2004, 1, 1), date(2040, 12, 31)))
def test_civil_code_art_203_next_working_day_is_the_first_on_or_after(day: date) -> None:
    result = CAL.next_working_day(day)
    assert result.day >= day
    assert CAL.is_working_day(result.day)[0]
    assert not any(CAL.is_working_day(day + timedelta(days=i))[0] for i in range((result.day - day).days))
    assert CAL.period_end(day) == result


@modest
@given(st.dates(date(2004, 1, 1), date(2040, 12, 31)))
def test_official_schedule_where_known_monday_to_friday_provisionally_elsewhere(day: date) -> None:
    working, provisional = CAL.is_working_day(day)
    if day.year <= LAST_LIBRARY_YEAR:
        assert (working, provisional) == (chinese_calendar.is_workday(day), False)
    else:
        assert (working, provisional) == (day.weekday() < 5, True)
