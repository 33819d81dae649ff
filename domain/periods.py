"""Periods in months and years, counted as 民法典 art. 201-202 count them.

Art. 201: a period in years or months starts on the day after the starting day (the first day is not counted).
Art. 202: it ends on the corresponding day of the last month, or on that month's last day when it has no such day.
So a period of ``n`` months that starts with an event on ``d`` covers ``d`` … ``add_months(d, n)`` inclusive and is
over on ``add_months(d, n) + 1 day``. Art. 203 (a period ending on a holiday ends on the next working day) concerns
deadlines to act; the look-back windows, publicity windows and listing terms here are not extended by it.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)


def add_months(d: date, n: int) -> date:
    """民法典 art. 202: the day of the month ``n`` months after (or before, for negative ``n``) ``d`` that
    corresponds to ``d``, or that month's last day when it has no corresponding day (31 Aug + 6 months = 28/29 Feb).
    """
    index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = d.day
    if day > 28:  # every month has days 1-28; only a later day may need the month's last day instead
        day = min(day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def add_years(d: date, n: int) -> date:
    """``n`` years after ``d``: 29 Feb goes to 28 Feb in a common year (art. 202)."""
    return add_months(d, 12 * n)


def months_window_contains(start: date, months: int, day: date) -> bool:
    """True when ``day`` lies in the ``months``-month window opened by an event on ``start``:
    ``start`` … ``add_months(start, months)`` inclusive (art. 201: the first day is not counted, so the window
    runs through the corresponding day)."""
    return start <= day <= add_months(start, months)


def window_end(start: date, months: int) -> date:
    """The last day of the ``months``-month window opened on ``start`` (inclusive)."""
    return add_months(start, months)


def earliest_start_counted(day: date, months: int) -> date:
    """The earliest event date whose ``months``-month window still contains ``day``: the first day of the
    look-back period "the last ``months`` months" as of ``day``.

    Usually ``add_months(day, -months)``; one or more days later when ``day`` is a month-end that the backward
    step cannot reach exactly (31 Mar looking back one month: 28 Feb + 1 month = 28 Mar < 31 Mar, so the period
    starts on 1 Mar)."""
    candidate = add_months(day, -months)
    while add_months(candidate, months) < day:
        candidate += ONE_DAY
    return candidate
