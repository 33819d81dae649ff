"""Working days on the official Chinese holiday schedule, and periods counted in them.

The bureau's deadlines are counted in working days (工作日), never in plain Monday-to-Friday days:

* WG art. 20: an objection (异议) is decided within 3 working days of receipt, or within 10 working days when
  another department must verify the information; the corrected record is pushed to the city credit platform
  within 5 working days after the objection is handled.
* WG art. 21: a C-grade employer that has corrected its violation and fulfilled its penalty has its grade
  adjusted within 5 working days after the evaluation cycle ends.

How such a period is counted follows 民法典 (Civil Code):

* art. 201: a period counted in days starts on the day after the triggering day; the day of receipt itself is
  not counted (:meth:`WorkCalendar.working_days_after`).
* art. 203: when the last day of a period is a statutory holiday, the period ends on the day after the holiday
  ends (:meth:`WorkCalendar.next_working_day`, :meth:`WorkCalendar.period_end`).
* art. 202 (a period in months or years ends on the corresponding day) needs no calendar and is not handled here.

Which days are working days comes, in this order of precedence:

1. a :class:`HolidayTable` the bureau loaded from the State Council's notice, for the years it covers, so the
   bureau can add a year the library does not know yet and correct the library for a year it does;
2. ``chinesecalendar``, which carries the official schedule including the make-up working days (调休) on
   Saturdays and Sundays, but only for the years it knows (2004-2026 in release 1.11.0). Its
   ``get_workdays(include_weekends=False)`` drops those make-up days, so only ``is_workday`` is used;
3. otherwise Monday to Friday, and every answer that relied on this guess is flagged ``provisional`` so the API
   can say so. An unknown year never raises.

The module is pure (no I/O); answers are computed once per year and cached.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import chinese_calendar

__all__ = ["HolidayTable", "WorkCalendar", "WorkingDay"]

_ONE_DAY = datetime.timedelta(days=1)
# No official schedule has ever had more than 9 days off in a row; a run of a whole year without a single
# working day can only come from a broken holiday table, and would otherwise make the loops below run forever.
_MAX_DAYS_OFF_IN_A_ROW = 366
# Per-instance cache bound: a year costs one tuple of 365/366 booleans; far more years than any real use.
_MAX_CACHED_YEARS = 512


def _require_date(day: object, what: str) -> datetime.date:
    # A datetime is a date subclass but never equal to one (datetime(2026, 1, 1) != date(2026, 1, 1)), so it
    # would silently miss every table entry; reject it instead of guessing a time zone.
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise TypeError(f"{what} must be a datetime.date, not {type(day).__name__}")
    return day


def _weekday_year(year: int) -> tuple[bool, ...]:
    """Monday to Friday for every day of ``year``: the fallback and the base a holiday table amends."""
    first = datetime.date(year, 1, 1)
    length = (datetime.date(year, 12, 31) - first).days + 1
    start = first.weekday()
    return tuple((start + i) % 7 < 5 for i in range(length))


def _library_year(year: int) -> tuple[bool, ...] | None:
    """chinesecalendar's answer for every day of ``year``, or None when it does not know the year.

    ``chinese_calendar.is_workday`` raises NotImplementedError for a year outside its data; only that is caught,
    so any other failure of the library is a real error and surfaces.
    """
    first = datetime.date(year, 1, 1)
    try:
        return tuple(
            bool(chinese_calendar.is_workday(first + datetime.timedelta(days=i)))
            for i in range((datetime.date(year, 12, 31) - first).days + 1)
        )
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class HolidayTable:
    """Official schedule for years chinesecalendar does not know, loaded by the bureau from the State Council's
    notice (国务院办公厅关于节假日安排的通知).

    ``days`` lists only the exceptions to Monday-Friday: ``True`` for a working day (including a make-up 调休
    Saturday or Sunday), ``False`` for a day off (a statutory holiday on a weekday). Any day of a covered year that
    is not listed is a working day when it falls Monday to Friday. ``years`` are the years the table fully covers;
    for those years the table takes precedence over chinesecalendar, so the bureau can also correct it. A row
    outside ``years`` is rejected rather than silently ignored.
    """

    days: Mapping[datetime.date, bool]
    years: frozenset[int]

    def __post_init__(self) -> None:
        years = frozenset(self.years)
        for year in years:
            if isinstance(year, bool) or not isinstance(year, int) or not datetime.MINYEAR <= year <= datetime.MAXYEAR:
                raise ValueError(f"holiday table year {year!r} is not a calendar year")
        days: dict[datetime.date, bool] = {}
        for day, working in self.days.items():
            _require_date(day, "holiday table day")
            if not isinstance(working, bool):
                raise TypeError(f"holiday table entry for {day.isoformat()} must be a bool, not {working!r}")
            if day.year not in years:
                raise ValueError(f"holiday table entry {day.isoformat()} lies outside the covered years")
            days[day] = working
        # Frozen in fact, not only in name: the caller's dict may change later, the table must not.
        object.__setattr__(self, "days", MappingProxyType(days))
        object.__setattr__(self, "years", years)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[datetime.date, bool]], years: Iterable[int]) -> HolidayTable:
        """Build a table from (day, working?) rows; the same day twice with different answers is an error."""
        days: dict[datetime.date, bool] = {}
        for day, working in rows:
            _require_date(day, "holiday table day")
            if day in days and days[day] != working:
                raise ValueError(f"holiday table lists {day.isoformat()} both as a working day and as a day off")
            days[day] = working
        return cls(days=days, years=frozenset(years))

    @classmethod
    def empty(cls) -> HolidayTable:
        """A table that covers no year: chinesecalendar, then Monday-Friday (provisional), decide."""
        return cls(days={}, years=frozenset())


@dataclass(frozen=True)
class WorkingDay:
    """A day found by counting working days.

    ``provisional`` is True when any day looked at while counting lies in a year that neither chinesecalendar
    nor the loaded holiday table covers; that day was taken as a working day only because it is Monday to Friday,
    so the deadline may move once the State Council's schedule for that year is loaded.
    """

    day: datetime.date
    provisional: bool


@dataclass(frozen=True)
class _Year:
    first: int  # ordinal of 1 January
    working: tuple[bool, ...]
    provisional: bool


class WorkCalendar:
    """Working days by the official schedule: the holiday table, then chinesecalendar, then Monday-Friday."""

    def __init__(self, table: HolidayTable | None = None) -> None:
        self.table = HolidayTable.empty() if table is None else table
        self._years: dict[int, _Year] = {}

    def __repr__(self) -> str:
        return f"WorkCalendar(table years={sorted(self.table.years)})"

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        first = datetime.date(year, 1, 1).toordinal()
        if year in self.table.years:
            working = list(_weekday_year(year))
            for day, is_working in self.table.days.items():
                if day.year == year:
                    working[day.toordinal() - first] = is_working
            info = _Year(first, tuple(working), provisional=False)
        else:
            library = _library_year(year)
            if library is None:
                info = _Year(first, _weekday_year(year), provisional=True)
            else:
                info = _Year(first, library, provisional=False)
        if len(self._years) >= _MAX_CACHED_YEARS:
            self._years.clear()
        self._years[year] = info
        return info

    def covers(self, year: int) -> bool:
        """Whether the official schedule of ``year`` is known (from the holiday table or chinesecalendar)."""
        if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
            return False
        return not self._year(year).provisional

    def is_working_day(self, day: datetime.date) -> tuple[bool, bool]:
        """(working?, provisional?) for ``day``.

        A make-up Saturday or Sunday (调休) is a working day and a statutory holiday on a weekday is not, as the
        State Council's schedule says; provisional is True when the year is not covered and Monday-Friday decided.
        """
        day = _require_date(day, "day")
        info = self._year(day.year)
        return info.working[day.toordinal() - info.first], info.provisional

    def working_days_after(self, start: datetime.date, n: int) -> WorkingDay:
        """The ``n``-th working day after ``start``: the last day of a period of ``n`` working days from ``start``.

        民法典 art. 201: the day of receipt is not counted, the period begins the next day. So an objection
        received on a Friday of an ordinary week and due within 3 working days (WG art. 20) is due on Wednesday,
        and a holiday in between is skipped while a make-up Saturday in between counts. The result is always a
        working day, so 民法典 art. 203 needs no further step here. ``n == 0`` returns ``start`` itself.
        """
        start = _require_date(start, "start")
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must be >= 0, not {n}")
        if n == 0:
            return WorkingDay(start, provisional=not self.covers(start.year))
        day = start
        provisional = False
        for _ in range(n):
            day, was_provisional = self._first_working_day(day + _ONE_DAY if day < datetime.date.max else None, start)
            provisional = provisional or was_provisional
        return WorkingDay(day, provisional)

    def next_working_day(self, day: datetime.date) -> WorkingDay:
        """``day`` itself when it is a working day, else the first working day after it.

        民法典 art. 203: a period whose last day falls on a statutory holiday (or a weekend that is not a make-up
        day) ends on the next working day.
        """
        day = _require_date(day, "day")
        found, provisional = self._first_working_day(day, day)
        return WorkingDay(found, provisional)

    def period_end(self, last_day: datetime.date) -> WorkingDay:
        """The day a period whose nominal last day is ``last_day`` really ends (民法典 art. 203).

        Same as :meth:`next_working_day`; named for computing the end of a period counted in calendar days or
        months (民法典 art. 202) that may land on a holiday.
        """
        return self.next_working_day(last_day)

    def _first_working_day(self, day: datetime.date | None, origin: datetime.date) -> tuple[datetime.date, bool]:
        """The first working day on or after ``day``, and whether any day looked at was provisional.

        Bounded: a run of more than a year without a working day (only possible with a broken holiday table) or
        running past the last representable date raises ValueError instead of looping.
        """
        provisional = False
        for _ in range(_MAX_DAYS_OFF_IN_A_ROW + 1):
            if day is None:
                break
            working, was_provisional = self.is_working_day(day)
            provisional = provisional or was_provisional
            if working:
                return day, provisional
            day = day + _ONE_DAY if day < datetime.date.max else None
        else:
            raise ValueError(
                f"no working day within {_MAX_DAYS_OFF_IN_A_ROW} days after {origin.isoformat()}: "
                "the holiday table marks too many days off"
            )
        raise ValueError(f"no working day after {origin.isoformat()} before the end of the calendar")
