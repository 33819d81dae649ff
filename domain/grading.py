"""The grade of an employer (用人单位劳动保障信用等级), WG art. 8-13 and 21, as a table of rule rows.

``GRADE_RULES`` is read top to bottom (C, B, A+, A: WG art. 12, 11, 9, 10) and the first row that holds is the
grade. Each row has its level, its article (``Citation``), a predicate that returns the records that decide it
(None when the row does not hold) and the explanation template. The rules read only the records and the as-of
date (and the working-day calendar for the WG art. 21 raise date), so a grade is a function of those alone and a
past as-of date reproduces the grade of that day.

Which records count on a day (``domain.publicity.counts_on``): decided on or before the day; REVOKED and
superseded records never; REPAIRED ones until the day before the repair; UNDER_OBJECTION ones do, and the
decision they drive is ``disputed``. Windows are measured on the decision date and counted as 民法典 art. 201-202
count them (``domain.periods``): "近一年内" as of ``day`` holds a record decided on ``d`` when
``d <= day <= add_months(d, 12)``.

The articles the rows cite, with their text, are in ``domain.grading_articles``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.grading_articles import PENALTY_C_ARTICLES, WG_9, WG_10, WG_11, WG_12_1, WG_12_2, WG_21, WG_NUMBER
from domain.model import WG, Citation, GradeDecision, GradeSegment, Record
from domain.periods import ONE_DAY, add_months
from domain.publicity import counts_on, effect_interval, wage_arrears_listing_end
from domain.rules import DEMO_PACK, RulePack, grading_in_force
from domain.taxonomy import TITLE_ZH, GradeLevel, RecordType
from domain.workdays import WorkCalendar, WorkingDay

LAST_YEAR_MONTHS = 12  # WG art. 10-12: 近一年内
A_PLUS_MONTHS = 60  # WG art. 9(1): 近60个月


# WG art. 11: found and corrected without a penalty, or other dishonesty that drew no penalty.
_B_TYPES = frozenset({RecordType.VIOLATION_CORRECTED, RecordType.FALSE_MATERIALS, RecordType.BROKEN_COMMITMENT})
# WG art. 9(1): 近60个月无劳动保障违法违规行为或劳动人事争议仲裁败诉案件. A judgment defaulter (a court's finding on
# a civil debt) is not a labor or social-security violation; interviews and awards are not violations either.
_A_PLUS_BLOCKERS = frozenset(
    {
        RecordType.ADMINISTRATIVE_PENALTY,
        RecordType.WAGE_ARREARS_BLACKLIST,
        RecordType.VIOLATION_CORRECTED,
        RecordType.FALSE_MATERIALS,
        RecordType.BROKEN_COMMITMENT,
        RecordType.ARBITRATION_LOST,
    }
)


def zh_date(d: date) -> str:
    """2026年3月10日."""
    return f"{d.year}年{d.month}月{d.day}日"


def cycle_of(day: date) -> tuple[date, date]:
    """WG art. 13: 评价周期为一年 — the calendar year of ``day``."""
    return date(day.year, 1, 1), date(day.year, 12, 31)


def raise_date(penalty: Record, calendar: WorkCalendar) -> WorkingDay | None:
    """WG art. 21: the day a C caused by ``penalty`` is raised, or None while the violation is not corrected or
    the penalty not fulfilled (the C stays).

    The grade is adjusted after the evaluation cycle ends, within 5 working days; the system adjusts at the first
    moment it may: the first working day after the first cycle end (31 December) that is on or after both the
    end of the penalty's 12-month window and the correction."""
    if penalty.corrected_on is None or penalty.penalty_fulfilled is not True:
        return None
    threshold = max(add_months(penalty.decided_on, LAST_YEAR_MONTHS), penalty.corrected_on)
    _, cycle_end = cycle_of(threshold)
    return calendar.next_working_day(cycle_end + ONE_DAY)


# The record types the rules read (each rule reads them through ``_Context.of`` or ``_Context.within``).
_PENALTY = frozenset({RecordType.ADMINISTRATIVE_PENALTY})
_BLACKLIST = frozenset({RecordType.WAGE_ARREARS_BLACKLIST})
_DESIGNATION = frozenset({RecordType.HARMONIOUS_LABOR_RELATIONS})
_LAST_YEAR_TYPES = _PENALTY | _B_TYPES  # read in the 12-month window: WG art. 12(1), 21, 11
_C_AND_B_TYPES = _LAST_YEAR_TYPES | _BLACKLIST  # read by WG art. 12, 21, 11
_READ = _C_AND_B_TYPES | _DESIGNATION | _A_PLUS_BLOCKERS  # and by WG art. 9 (and the dispute of an A, art. 10)


class _Dated:
    """A record that counts on some day (``domain.publicity.counts_on``: ``decided_on`` … ``counts_until``), with
    the dates the rules read about it. Each of those is computed the first time a rule reads it and then kept, so a
    timeline that grades many days computes it once."""

    __slots__ = (
        "_calendar",
        "_designated_until",
        "_listing_end",
        "_raised",
        "_window_ends",
        "counts_until",
        "decided_on",
        "record",
    )

    def __init__(self, record: Record, counts_until: date, calendar: WorkCalendar) -> None:
        self.record = record
        self.decided_on = record.decided_on  # the first day it counts
        self.counts_until = counts_until  # the last day it counts (``date.max``: no end)
        self._calendar = calendar
        self._window_ends: dict[int, date] = {}
        self._listing_end: date | None = None
        self._raised: tuple[WorkingDay | None] | None = None
        self._designated_until: tuple[date | None] | None = None

    def window_end(self, months: int) -> date:
        """The last day of the ``months``-month window opened by the decision (``domain.periods``)."""
        end = self._window_ends.get(months)
        if end is None:
            end = self._window_ends[months] = add_months(self.decided_on, months)
        return end

    def listing_end(self) -> date:
        """MOHRSS 45: the last day the wage-arrears listing is in force (``wage_arrears_listing_end``)."""
        if self._listing_end is None:
            self._listing_end = wage_arrears_listing_end(self.record)
        return self._listing_end

    def raised(self) -> WorkingDay | None:
        """WG art. 21: the day a C caused by the penalty is raised (``raise_date``)."""
        if self._raised is None:
            self._raised = (raise_date(self.record, self._calendar),)
        return self._raised[0]

    def designated_until(self) -> date | None:
        """WG art. 9: the last day the designation is in force while the record counts (``date.max``: no end), None
        when it never is: not attested, or an unreadable ``valid_until`` (see ``designation_in_force``)."""
        if self._designated_until is None:
            self._designated_until = (_designation_last_day(self.record),)
        return self._designated_until[0]


class _ByTypes(dict[frozenset[RecordType], tuple[_Dated, ...]]):
    """The records of each set of types the rules ask for, in order; each set is filtered once, when first asked."""

    def __init__(self, dated: Sequence[_Dated]) -> None:
        super().__init__()
        self.dated = dated

    def __missing__(self, types: frozenset[RecordType]) -> tuple[_Dated, ...]:
        found = self[types] = tuple([d for d in self.dated if d.record.type in types])
        return found


class _Records:
    """A subject's records as the rules read them: those that count on some day, ordered by (decided_on, id)."""

    def __init__(self, records: Iterable[Record], calendar: WorkCalendar) -> None:
        dated = []
        for r in _ordered(records):
            interval = effect_interval(r)
            if interval is not None:
                dated.append(_Dated(r, date.max if interval[1] is None else interval[1], calendar))
        self.of = _ByTypes(dated)

    def change_days(self, pack: RulePack) -> set[date]:
        """The days on which the grade may change: the days of ``breakpoints`` that a rule reads. Those of records
        that never count or that no rule reads are left out, and so are the 60-month windows (WG art. 9) and the
        records read only by WG art. 9 when no designation can ever be in force: then WG art. 9 never holds and no
        A is disputed for want of it, so only WG art. 12, 21 and 11 read the records."""
        days: set[date] = set()
        if pack.grading is not None:
            days.update(pack.grading.boundaries())
        a_plus = any(d.designated_until() is not None for d in self.of[_DESIGNATION])
        for d in self.of[_READ if a_plus else _C_AND_B_TYPES]:
            record_type = d.record.type
            days.add(d.decided_on)
            if d.counts_until != date.max:
                days.add(d.counts_until + ONE_DAY)
            if record_type in _LAST_YEAR_TYPES:
                days.add(d.window_end(LAST_YEAR_MONTHS) + ONE_DAY)
            if a_plus and record_type in _A_PLUS_BLOCKERS:
                days.add(d.window_end(A_PLUS_MONTHS) + ONE_DAY)
            if record_type is RecordType.WAGE_ARREARS_BLACKLIST:
                days.add(d.listing_end() + ONE_DAY)
            elif record_type is RecordType.ADMINISTRATIVE_PENALTY:
                raised = d.raised()
                if raised is not None:
                    days.add(raised.day)
            elif record_type is RecordType.HARMONIOUS_LABOR_RELATIONS:
                until = d.designated_until()
                if until is not None and until != date.max:
                    days.add(until + ONE_DAY)
        return days


@dataclass(slots=True)  # not frozen: a timeline makes one per day it grades, and a frozen one is slower to make
class _Context:
    """What the rules read: the as-of day and the subject's records."""

    day: date
    subject: _Records

    def of(self, types: frozenset[RecordType]) -> tuple[_Dated, ...]:
        """The records of these types that count on ``day``, ordered by (decided_on, id)."""
        candidates = self.subject.of[types]
        if not candidates:
            return ()
        day = self.day
        return tuple([d for d in candidates if d.decided_on <= day <= d.counts_until])

    def within(self, types: frozenset[RecordType], months: int) -> tuple[_Dated, ...]:
        """The records of these types that count on ``day`` and whose ``months``-month window contains it
        (``domain.periods.months_window_contains``)."""
        candidates = self.subject.of[types]
        if not candidates:
            return ()
        day = self.day
        return tuple([d for d in candidates if d.decided_on <= day <= d.counts_until and day <= d.window_end(months)])


def _penalty_last_year(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 12(1): a penalty of any severity in the last year (a MINOR one is not dishonesty information under
    SH art. 5(2), but it is still a penalty)."""
    return ctx.within(_PENALTY, LAST_YEAR_MONTHS) or None


def _blacklist_in_force(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 12(2): a wage-arrears listing in force on the day (MOHRSS 45: 3 years, or until early removal)."""
    day = ctx.day
    return tuple([d for d in ctx.of(_BLACKLIST) if d.decided_on <= day <= d.listing_end()]) or None


def _penalty_not_yet_raised(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 21: a penalty past its 12-month window whose C is not raised yet (not corrected and fulfilled, or
    the cycle not ended)."""
    found = []
    for d in ctx.of(_PENALTY):
        if ctx.day <= d.window_end(LAST_YEAR_MONTHS):
            continue
        raised = d.raised()
        if raised is None or ctx.day < raised.day:
            found.append(d)
    return tuple(found) or None


def _corrected_or_unpunished_last_year(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 11: in the last year a violation found and corrected without a penalty, or false materials / a
    broken commitment that drew no penalty."""
    return ctx.within(_B_TYPES, LAST_YEAR_MONTHS) or None


def designation_in_force(record: Record, day: date) -> bool:
    """WG art. 9: a municipal harmonious-labor-relations designation, attested for the labor-contract condition
    of art. 9(2) (``details.labor_contract_attested``), not past its ``details.valid_until`` when it has one (an
    unreadable ``valid_until`` is taken as not in force)."""
    if record.type is not RecordType.HARMONIOUS_LABOR_RELATIONS or not counts_on(record, day):
        return False
    last_day = _designation_last_day(record)
    return last_day is not None and day <= last_day


def _designation_last_day(record: Record) -> date | None:
    """The last day a designation is in force (``date.max``: no end), None when it never is: not attested for the
    labor-contract condition of WG art. 9(2), or an unreadable ``valid_until``."""
    if record.details.get("labor_contract_attested") is not True:
        return None
    readable, valid_until = _valid_until(record)
    if not readable:
        return None
    return date.max if valid_until is None else valid_until


def _valid_until(record: Record) -> tuple[bool, date | None]:
    """(readable?, the designation's last day) from ``details.valid_until`` (an ISO date; absent: no end)."""
    raw = record.details.get("valid_until")
    if raw is None:
        return True, None
    if isinstance(raw, datetime):
        return True, raw.date()
    if isinstance(raw, date):
        return True, raw
    if isinstance(raw, str):
        try:
            return True, date.fromisoformat(raw)
        except ValueError:
            return False, None
    return False, None


def _a_plus_blockers(ctx: _Context) -> tuple[_Dated, ...]:
    return ctx.within(_A_PLUS_BLOCKERS, A_PLUS_MONTHS)


def _designations(ctx: _Context) -> tuple[_Dated, ...]:
    """The designations in force on the day (``designation_in_force``)."""
    day = ctx.day
    return tuple([d for d in ctx.of(_DESIGNATION) if (until := d.designated_until()) is not None and day <= until])


def _harmonious_and_clean(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 9: a designation in force and nothing in the last 60 months; the basis is the latest designation."""
    designations = _designations(ctx)
    if not designations or _a_plus_blockers(ctx):
        return None
    return (designations[-1],)


def _otherwise(ctx: _Context) -> tuple[_Dated, ...] | None:
    """WG art. 10: otherwise."""
    return ()


def _a_plus_withheld_by_disputed(ctx: _Context) -> bool:
    """An A that would be A+ but for records of the last 60 months is disputed when one of them is."""
    return bool(_designations(ctx)) and any(d.record.disputed for d in _a_plus_blockers(ctx))


class _Fields:
    """The values an explanation template may use, computed from the decision's basis only (so every day of a
    timeline segment has the same sentence)."""

    def __init__(self, basis: Sequence[_Dated]) -> None:
        self.basis = basis

    @property
    def dates(self) -> str:
        return "、".join(dict.fromkeys(zh_date(d.decided_on) for d in self.basis))

    @property
    def counted_until(self) -> str:
        return zh_date(max(d.window_end(LAST_YEAR_MONTHS) for d in self.basis))

    @property
    def listing_until(self) -> str:
        return zh_date(max(d.listing_end() for d in self.basis))

    @property
    def items(self) -> str:
        return "；".join(f"{zh_date(d.decided_on)}{TITLE_ZH[d.record.type]}" for d in self.basis)

    @property
    def raise_items(self) -> str:
        parts = []
        for d in self.basis:
            raised = d.raised()
            corrected_on = d.record.corrected_on
            if raised is None or corrected_on is None:
                parts.append(f"{zh_date(d.decided_on)}受到的行政处罚尚未纠正违法行为或履行处罚决定")
            else:
                note = "，该年度节假日安排尚未公布，暂按周一至周五计算" if raised.provisional else ""
                parts.append(
                    f"{zh_date(d.decided_on)}受到的行政处罚已于{zh_date(corrected_on)}纠正违法行为并履行处罚决定，"
                    f"评价周期满后于{zh_date(raised.day)}调整{note}"
                )
        return "；".join(parts)


@dataclass(frozen=True, slots=True)
class GradeRule:
    """One row of the grade table: when ``holds`` returns the deciding records (None: the row does not hold),
    the grade is ``level`` by ``citation``, explained by ``explanation`` (a ``str.format`` template over ``f``,
    see ``_Fields``). ``disputed_by``: records other than the basis whose objection would change the outcome."""

    level: GradeLevel
    citation: Citation
    holds: Callable[[_Context], tuple[_Dated, ...] | None]
    explanation: str
    disputed_by: Callable[[_Context], bool] | None = None


_SUFFIX = "依据" + WG_NUMBER

GRADE_RULES: tuple[GradeRule, ...] = (
    GradeRule(
        GradeLevel.C,
        WG_12_1,
        _penalty_last_year,
        "该单位于{f.dates}因违反人社法律法规受到行政处罚（近一年内，计至{f.counted_until}），"
        + _SUFFIX
        + "第十二条第（一）项评价为C级（较差）。",
    ),
    GradeRule(
        GradeLevel.C,
        WG_12_2,
        _blacklist_in_force,
        "该单位于{f.dates}被列入拖欠农民工工资“黑名单”（列入期限至{f.listing_until}），"
        + _SUFFIX
        + "第十二条第（二）项评价为C级（较差）。",
    ),
    GradeRule(
        GradeLevel.C,
        WG_21,
        _penalty_not_yet_raised,
        "该单位因受到行政处罚被评价为C级，尚不能调整信用等级（{f.raise_items}），"
        + _SUFFIX
        + "第二十一条仍评价为C级（较差）。",
    ),
    GradeRule(
        GradeLevel.B,
        WG_11,
        _corrected_or_unpunished_last_year,
        "该单位近一年内有违法被查处并及时纠正或其他失信情形、未受到行政处罚（{f.items}；计至{f.counted_until}），"
        + _SUFFIX
        + "第十一条评价为B级（一般）。",
    ),
    GradeRule(
        GradeLevel.A_PLUS,
        WG_9,
        _harmonious_and_clean,
        "该单位于{f.dates}被确定为市级劳动关系和谐企业且未被撤销，严格执行劳动合同制度，"
        "近60个月无劳动保障违法违规行为或劳动人事争议仲裁败诉案件，" + _SUFFIX + "第九条评价为A+级（优秀）。",
    ),
    GradeRule(
        GradeLevel.A,
        WG_10,
        _otherwise,
        "该单位在近一年内未被发现有违反人社法律法规行为，" + _SUFFIX + "第十条评价为A级（良好）。",
        disputed_by=_a_plus_withheld_by_disputed,
    ),
)
"""WG art. 12, 21, 11, 9, 10 in the order they are checked: the first row that holds is the grade."""


def _ordered(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.decided_on, r.id))


_Outcome = tuple[GradeRule, tuple[_Dated, ...], bool]
"""The row of ``GRADE_RULES`` that holds, its basis and whether the decision is disputed."""


def _decide(ctx: _Context) -> _Outcome:
    """WG art. 8-13, 21: the first row of ``GRADE_RULES`` that holds on ``ctx.day``."""
    for rule in GRADE_RULES:
        basis = rule.holds(ctx)
        if basis is None:
            continue
        disputed = any(d.record.disputed for d in basis) or (rule.disputed_by is not None and rule.disputed_by(ctx))
        return rule, basis, disputed
    raise AssertionError("WG art. 10 always holds")  # pragma: no cover


def _decision(outcome: _Outcome, day: date) -> GradeDecision:
    """The decision of ``day`` for ``outcome``, with its explanation."""
    rule, basis, disputed = outcome
    cycle_start, cycle_end = cycle_of(day)
    return GradeDecision(
        level=rule.level,
        as_of=day,
        cycle_start=cycle_start,
        cycle_end=cycle_end,
        rule=rule.citation,
        basis=tuple([d.record.id for d in basis]),
        explanation=rule.explanation.format(f=_Fields(basis)),
        disputed=disputed,
    )


def grade_on(
    records: Sequence[Record], day: date, *, calendar: WorkCalendar, pack: RulePack = DEMO_PACK
) -> GradeDecision | None:
    """WG art. 8-13, 21: the grade of an organization on ``day`` from its current records; None when grading is not
    in force on ``day`` (before WG, 2022-12-15)."""
    if not grading_in_force(day, pack):
        return None
    return _decision(_decide(_Context(day=day, subject=_Records(records, calendar))), day)


def _key(outcome: _Outcome | None) -> tuple[object, ...] | None:
    """What makes two decisions the same (level, rule, basis, disputed), as ``GradeDecision`` fields."""
    if outcome is None:
        return None
    rule, basis, disputed = outcome
    return rule.level, rule.citation, tuple([d.record.id for d in basis]), disputed


def breakpoints(records: Sequence[Record], *, calendar: WorkCalendar, pack: RulePack = DEMO_PACK) -> set[date]:
    """Every day on which the grade may change, given the records: a record starts or stops counting, leaves the
    12- or 60-month window, a listing or designation ends, a WG art. 21 raise takes effect, grading comes into or
    goes out of force. Between two consecutive breakpoints the grade is constant."""
    points: set[date] = set()
    if pack.grading is not None:
        points.update(pack.grading.boundaries())
    for r in records:
        d = r.decided_on
        points.add(d)
        for months in (LAST_YEAR_MONTHS, A_PLUS_MONTHS):
            points.add(add_months(d, months) + ONE_DAY)
        if r.status_changed_on is not None:
            points.add(r.status_changed_on)
        if r.corrected_on is not None:
            points.add(r.corrected_on)
        if r.type is RecordType.WAGE_ARREARS_BLACKLIST:
            points.add(wage_arrears_listing_end(r) + ONE_DAY)
        if r.type is RecordType.ADMINISTRATIVE_PENALTY:
            raised = raise_date(r, calendar)
            if raised is not None:
                points.add(raised.day)
        if r.type is RecordType.HARMONIOUS_LABOR_RELATIONS:
            _, valid_until = _valid_until(r)
            if valid_until is not None:
                points.add(valid_until + ONE_DAY)
    return points


def grade_timeline(
    records: Sequence[Record],
    *,
    start: date,
    end: date,
    calendar: WorkCalendar,
    pack: RulePack = DEMO_PACK,
) -> list[GradeSegment]:
    """The grade as a piecewise-constant timeline from ``start``: segments in order, consecutive equal decisions
    (level, rule, basis, disputed) merged, each decision the one of its ``valid_from`` day. Days on which grading
    is not in force have no segment.

    The timeline covers ``start`` … ``end`` and continues past ``end`` through every later breakpoint the records
    imply, so the last segment (``valid_to`` None) is the decision for every later day given the same records.

    The records are ordered and their dates computed once (``_Records``); the grade is decided on each day it may
    change (``_Records.change_days``, the days of ``breakpoints`` the rules read) and a ``GradeDecision`` with its
    explanation is built only for the first day of each run."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    subject = _Records(records, calendar)
    points = sorted({start} | {p for p in subject.change_days(pack) if p > start})
    runs: list[tuple[date, _Outcome | None]] = []
    last_key: tuple[object, ...] | None = None
    for p in points:
        outcome = _decide(_Context(day=p, subject=subject)) if grading_in_force(p, pack) else None
        key = _key(outcome)
        if runs and key == last_key:
            continue
        runs.append((p, outcome))
        last_key = key
    segments: list[GradeSegment] = []
    for i, (valid_from, outcome) in enumerate(runs):
        if outcome is None:
            continue
        valid_to = runs[i + 1][0] if i + 1 < len(runs) else None
        segments.append(GradeSegment(valid_from=valid_from, valid_to=valid_to, decision=_decision(outcome, valid_from)))
    return segments


def is_c_from_penalty(decision: GradeDecision) -> bool:
    """A C caused by a penalty (WG art. 12(1), or kept by art. 21): WG art. 17 first paragraph applies."""
    return (
        decision.level is GradeLevel.C and decision.rule.document == WG and decision.rule.article in PENALTY_C_ARTICLES
    )


def explain(decision: GradeDecision) -> str:
    """The sentence that says why (the decision carries it, in Chinese)."""
    return decision.explanation


__all__ = [
    "GRADE_RULES",
    "PENALTY_C_ARTICLES",
    "WG_9",
    "WG_10",
    "WG_11",
    "WG_12_1",
    "WG_12_2",
    "WG_21",
    "WG_NUMBER",
    "GradeRule",
    "breakpoints",
    "cycle_of",
    "designation_in_force",
    "explain",
    "grade_on",
    "grade_timeline",
    "is_c_from_penalty",
    "raise_date",
    "zh_date",
]
