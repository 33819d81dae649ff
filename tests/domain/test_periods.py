"""民法典 art. 201-202: periods in months and years (domain/periods.py)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.periods import add_months, add_years, earliest_start_counted, months_window_contains, window_end

ONE = timedelta(days=1)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


def test_civil_code_art_202_add_months_ends_on_the_corresponding_day() -> None:
    assert add_months(date(2025, 3, 10), 12) == date(2026, 3, 10)
    assert add_months(date(2025, 11, 21), 3) == date(2026, 2, 21)
    assert add_months(date(2025, 3, 10), 0) == date(2025, 3, 10)


def test_civil_code_art_202_add_months_ends_on_the_months_last_day_when_it_has_no_corresponding_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2025, 5, 31), 1) == date(2025, 6, 30)


def test_civil_code_art_202_add_months_backwards() -> None:
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 15), -12) == date(2025, 1, 15)


def test_civil_code_art_202_add_years_from_a_leap_day() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2025, 3, 10), 3) == date(2028, 3, 10)


def test_civil_code_art_201_window_runs_from_the_event_through_the_corresponding_day() -> None:
    start = date(2025, 3, 10)
    assert window_end(start, 12) == date(2026, 3, 10)
    assert not months_window_contains(start, 12, start - ONE)
    assert months_window_contains(start, 12, start)
    assert months_window_contains(start, 12, date(2026, 3, 9))
    assert months_window_contains(start, 12, date(2026, 3, 10))
    assert not months_window_contains(start, 12, date(2026, 3, 11))


def test_civil_code_art_201_earliest_start_counted_at_a_month_end() -> None:
    # 28 Feb + 1 month = 28 Mar < 31 Mar, so looking back one month from 31 Mar starts on 1 Mar.
    assert earliest_start_counted(date(2026, 3, 31), 1) == date(2026, 3, 1)
    assert earliest_start_counted(date(2026, 11, 21), 12) == date(2025, 11, 21)
    assert earliest_start_counted(date(2025, 2, 28), 12) == date(2024, 2, 28)


@given(days, st.integers(min_value=-120, max_value=120))
def test_civil_code_art_202_add_months_keeps_the_day_or_takes_the_last_day(d: date, n: int) -> None:
    result = add_months(d, n)
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == n
    assert result.day == d.day or (result.day < d.day and (result + ONE).month != result.month)


@given(days, st.sampled_from([1, 3, 6, 12, 36, 60]))
def test_civil_code_art_201_earliest_start_counted_is_the_first_day_of_the_look_back(day: date, months: int) -> None:
    first = earliest_start_counted(day, months)
    assert months_window_contains(first, months, day)
    assert not months_window_contains(first - ONE, months, day)
    assert add_months(day, -months) <= first <= day
