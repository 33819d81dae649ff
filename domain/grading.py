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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain.model import WG, Citation, GradeDecision, GradeSegment, Record
from domain.periods import ONE_DAY, add_months, months_window_contains
from domain.publicity import counts_on, wage_arrears_listing_end
from domain.rules import DEMO_PACK, RulePack, grading_in_force
from domain.taxonomy import TITLE_ZH, GradeLevel, RecordType
from domain.workdays import WorkCalendar, WorkingDay

LAST_YEAR_MONTHS = 12  # WG art. 10-12: 近一年内
A_PLUS_MONTHS = 60  # WG art. 9(1): 近60个月
WG_NUMBER = "舞人社〔2022〕127号"


def _wg(article: str, short: str, text: str) -> Citation:
    return Citation(document=WG, article=article, text=text, short=short)


WG_9 = _wg(
    "第九条",
    "WG art. 9",
    "用人单位同时具备以下条件，并被确定为市级劳动关系和谐企业且未被撤销的，评价为A+级（优秀）："
    "（一）依法保障职工权益，近60个月无劳动保障违法违规行为或劳动人事争议仲裁败诉案件；"
    "（二）严格执行劳动合同制度，注重人文关怀，企业凝聚力较强。",
)
WG_10 = _wg("第十条", "WG art. 10", "用人单位在近一年内未被发现有违反人社法律法规行为的，评价为A级（良好）。")
WG_11 = _wg(
    "第十一条",
    "WG art. 11",
    "用人单位在近一年内因违反人社法律法规行为被查处，但能及时纠正，未受到行政处罚的，评价为B级（一般）。",
)
WG_12_1 = _wg(
    "第十二条第（一）项",
    "WG art. 12(1)",
    "用人单位在近一年内存在以下情形之一的，评价为C级（较差）：（一）因违反人社法律法规受到行政处罚的。",
)
WG_12_2 = _wg(
    "第十二条第（二）项",
    "WG art. 12(2)",
    "用人单位在近一年内存在以下情形之一的，评价为C级（较差）：（二）被列入拖欠农民工工资“黑名单”的。",
)
WG_21 = _wg(
    "第二十一条",
    "WG art. 21",
    "对评价为C级的用人单位，市人社行政部门应当会同相关部门，督促用人单位纠正违法行为、消除不良影响。"
    "对已纠正违法行为且履行行政处罚决定的，应当在评价周期满后5个工作日内调整其信用等级。",
)

# A C grade caused by a penalty (WG art. 12(1), kept by art. 21): WG art. 17 first paragraph applies to it.
PENALTY_C_ARTICLES = frozenset({WG_12_1.article, WG_21.article})

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


@dataclass(frozen=True, slots=True)
class _Context:
    day: date
    records: tuple[Record, ...]  # the records that count on ``day``, ordered by (decided_on, id)
    calendar: WorkCalendar

    def of(self, types: Iterable[RecordType]) -> Iterator[Record]:
        wanted = frozenset(types)
        return (r for r in self.records if r.type in wanted)

    def within(self, types: Iterable[RecordType], months: int) -> tuple[Record, ...]:
        return tuple(r for r in self.of(types) if months_window_contains(r.decided_on, months, self.day))


def _hit(found: tuple[Record, ...]) -> tuple[Record, ...] | None:
    return found or None


def _penalty_last_year(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 12(1): a penalty of any severity in the last year (a MINOR one is not dishonesty information under
    SH art. 5(2), but it is still a penalty)."""
    return _hit(ctx.within([RecordType.ADMINISTRATIVE_PENALTY], LAST_YEAR_MONTHS))


def _blacklist_in_force(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 12(2): a wage-arrears listing in force on the day (MOHRSS 45: 3 years, or until early removal)."""
    return _hit(
        tuple(
            r
            for r in ctx.of([RecordType.WAGE_ARREARS_BLACKLIST])
            if r.decided_on <= ctx.day <= wage_arrears_listing_end(r)
        )
    )


def _penalty_not_yet_raised(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 21: a penalty past its 12-month window whose C is not raised yet (not corrected and fulfilled, or
    the cycle not ended)."""
    found = []
    for r in ctx.of([RecordType.ADMINISTRATIVE_PENALTY]):
        if ctx.day <= add_months(r.decided_on, LAST_YEAR_MONTHS):
            continue
        raised = raise_date(r, ctx.calendar)
        if raised is None or ctx.day < raised.day:
            found.append(r)
    return _hit(tuple(found))


def _corrected_or_unpunished_last_year(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 11: in the last year a violation found and corrected without a penalty, or false materials / a
    broken commitment that drew no penalty."""
    return _hit(ctx.within(_B_TYPES, LAST_YEAR_MONTHS))


def designation_in_force(record: Record, day: date) -> bool:
    """WG art. 9: a municipal harmonious-labor-relations designation, attested for the labor-contract condition
    of art. 9(2) (``details.labor_contract_attested``), not past its ``details.valid_until`` when it has one (an
    unreadable ``valid_until`` is taken as not in force)."""
    if record.type is not RecordType.HARMONIOUS_LABOR_RELATIONS or not counts_on(record, day):
        return False
    if record.details.get("labor_contract_attested") is not True:
        return False
    readable, valid_until = _valid_until(record)
    return readable and (valid_until is None or day <= valid_until)


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


def _a_plus_blockers(ctx: _Context) -> tuple[Record, ...]:
    return ctx.within(_A_PLUS_BLOCKERS, A_PLUS_MONTHS)


def _designations(ctx: _Context) -> tuple[Record, ...]:
    return tuple(r for r in ctx.records if designation_in_force(r, ctx.day))


def _harmonious_and_clean(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 9: a designation in force and nothing in the last 60 months; the basis is the latest designation."""
    designations = _designations(ctx)
    if not designations or _a_plus_blockers(ctx):
        return None
    return (designations[-1],)


def _otherwise(ctx: _Context) -> tuple[Record, ...] | None:
    """WG art. 10: otherwise."""
    return ()


def _a_plus_withheld_by_disputed(ctx: _Context) -> bool:
    """An A that would be A+ but for records of the last 60 months is disputed when one of them is."""
    return bool(_designations(ctx)) and any(r.disputed for r in _a_plus_blockers(ctx))


class _Fields:
    """The values an explanation template may use, computed from the decision's basis only (so every day of a
    timeline segment has the same sentence)."""

    def __init__(self, basis: Sequence[Record], calendar: WorkCalendar) -> None:
        self.basis = basis
        self.calendar = calendar

    @property
    def dates(self) -> str:
        return "、".join(dict.fromkeys(zh_date(r.decided_on) for r in self.basis))

    @property
    def counted_until(self) -> str:
        return zh_date(max(add_months(r.decided_on, LAST_YEAR_MONTHS) for r in self.basis))

    @property
    def listing_until(self) -> str:
        return zh_date(max(wage_arrears_listing_end(r) for r in self.basis))

    @property
    def items(self) -> str:
        return "；".join(f"{zh_date(r.decided_on)}{TITLE_ZH[r.type]}" for r in self.basis)

    @property
    def raise_items(self) -> str:
        parts = []
        for r in self.basis:
            raised = raise_date(r, self.calendar)
            if raised is None or r.corrected_on is None:
                parts.append(f"{zh_date(r.decided_on)}受到的行政处罚尚未纠正违法行为或履行处罚决定")
            else:
                note = "，该年度节假日安排尚未公布，暂按周一至周五计算" if raised.provisional else ""
                parts.append(
                    f"{zh_date(r.decided_on)}受到的行政处罚已于{zh_date(r.corrected_on)}纠正违法行为并履行处罚决定，"
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
    holds: Callable[[_Context], tuple[Record, ...] | None]
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


def grade_on(
    records: Sequence[Record], day: date, *, calendar: WorkCalendar, pack: RulePack = DEMO_PACK
) -> GradeDecision | None:
    """WG art. 8-13, 21: the grade of an organization on ``day`` from its current records; None when grading is not
    in force on ``day`` (before WG, 2022-12-15)."""
    if not grading_in_force(day, pack):
        return None
    counting = tuple(r for r in _ordered(records) if counts_on(r, day))
    ctx = _Context(day=day, records=counting, calendar=calendar)
    cycle_start, cycle_end = cycle_of(day)
    for rule in GRADE_RULES:
        basis = rule.holds(ctx)
        if basis is None:
            continue
        disputed = any(r.disputed for r in basis) or (rule.disputed_by is not None and rule.disputed_by(ctx))
        return GradeDecision(
            level=rule.level,
            as_of=day,
            cycle_start=cycle_start,
            cycle_end=cycle_end,
            rule=rule.citation,
            basis=tuple(r.id for r in basis),
            explanation=rule.explanation.format(f=_Fields(basis, calendar)),
            disputed=disputed,
        )
    raise AssertionError("WG art. 10 always holds")  # pragma: no cover


def _same(a: GradeDecision | None, b: GradeDecision | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.level, a.rule, a.basis, a.disputed) == (b.level, b.rule, b.basis, b.disputed)


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
    imply, so the last segment (``valid_to`` None) is the decision for every later day given the same records."""
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    points = sorted({start} | {p for p in breakpoints(records, calendar=calendar, pack=pack) if p > start})
    runs: list[tuple[date, GradeDecision | None]] = []
    for p in points:
        decision = grade_on(records, p, calendar=calendar, pack=pack)
        if runs and _same(runs[-1][1], decision):
            continue
        runs.append((p, decision))
    segments: list[GradeSegment] = []
    for i, (valid_from, decision) in enumerate(runs):
        if decision is None:
            continue
        valid_to = runs[i + 1][0] if i + 1 < len(runs) else None
        segments.append(GradeSegment(valid_from=valid_from, valid_to=valid_to, decision=decision))
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
    "WG_9",
    "WG_10",
    "WG_11",
    "WG_12_1",
    "WG_12_2",
    "WG_21",
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
