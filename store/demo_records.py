"""How each type of demo record is made (store.demo plays the scenarios and calls on these).

Publicity windows follow the national repair rule (国家发展改革委令2025年第36号), counted from the decision
date: MINOR not published (NULL), GENERAL between 3 months and 1 year, SERIOUS between 1 and 3 years; BASIC and
ENHANCING records have no window.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar

from domain.records import RECORD_CONTENT, RecordDraft
from domain.taxonomy import TITLE_ZH, RecordStatus, RecordType, Severity
from store.demo_data import (
    ARBITRATION_CLAIMS,
    BENEFITS,
    CITY_ARBITRATION,
    CITY_BUREAU,
    COMMITMENT_MATTERS,
    CORRECTIONS,
    DISTRICT_BY_CODE,
    EMPLOYMENT_CENTRE,
    ENFORCEMENT,
    PENALTIES,
    SOCIAL_INSURANCE_CENTRE,
    SUBSIDIES,
    District,
    Violation,
)
from store.demo_population import Org, Person, Plan, trade_name
from store.demo_scenarios import Step
from store.imports import draft_content

_T = TypeVar("_T")

_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# --- Dates -------------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month when shorter (31 Jan + 1 → 28 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Working days are counted Monday to Friday here, deliberately: the demo only needs plausible deadlines and
# ``deadlines_provisional`` is stored false. The official calendar (chinesecalendar plus the holiday table,
# DESIGN.md "Objections and repair") also knows holidays and make-up working days (调休), so a demo loaded
# around a public holiday may show a deadline that the official count would put a few days later.
def _is_working_day(day: date) -> bool:
    return day.weekday() < 5


def working_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if _is_working_day(day):
            count -= 1
    return day


def working_days_after(day: date, count: int) -> date:
    """``count`` working days after ``day``; the day of receipt itself is not counted (民法典 art. 201)."""
    while count:
        day += timedelta(days=1)
        if _is_working_day(day):
            count -= 1
    return day


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=_SHANGHAI)


# --- What is built -----------------------------------------------------------------------------------------


@dataclass
class Rec:
    subject: str  # the USCC or ID number of the subject, resolved to its id when inserted
    type: RecordType
    severity: Severity | None
    title: str
    decision_number: str
    source_unit: str
    legal_basis: str | None
    occurred_on: date | None
    decided_on: date
    publicity_until: date | None
    penalty_fulfilled: bool | None
    corrected_on: date | None
    details: dict[str, Any]
    status: RecordStatus = RecordStatus.ACTIVE
    status_changed_at: datetime | None = None
    status_reason: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.source_unit, self.decision_number

    def draft(self) -> RecordDraft:
        """The record's content as an import gives it (the category follows from the type)."""
        return RecordDraft._make(None if f.name == "category" else getattr(self, f.name) for f in RECORD_CONTENT)

    def content(self) -> dict[str, Any]:
        """The content fields as an import stores them (store.imports.draft_content), so that the digest is
        the one an import of the same record computes, and re-sending a demo record is recognized as unchanged."""
        return draft_content(self.draft())


@dataclass(frozen=True)
class ObjectionSpec:
    record: Rec
    reason: str
    received_on: date
    external: bool


@dataclass(frozen=True)
class RepairSpec:
    record: Rec
    statement: str
    submitted_on: date
    decided_on: date
    decision: str


@dataclass
class Records:
    """The records of ``plan`` dated for the seed day ``today``, with the objections and repairs of some."""

    plan: Plan
    today: date
    rng: random.Random
    numbering: random.Random  # document numbers only (see store.demo)
    records: list[Rec] = field(default_factory=list)
    objections: list[ObjectionSpec] = field(default_factory=list)
    repairs: list[RepairSpec] = field(default_factory=list)
    _numbers: dict[tuple[str, str], int] = field(default_factory=dict)

    # -- dispatch

    def of_org(self, org: Org, step: Step, decided: date) -> Rec:
        return ORGANIZATION_RECORDS[step.type](self, org, step, decided)

    def of_person(self, person: Person, step: Step, decided: date) -> Rec:
        return PERSON_RECORDS[step.type](self, person, step, decided)

    # -- helpers

    def ago(self, newest: int, oldest: int) -> date:
        """A day between ``newest`` and ``oldest`` days before today (both inclusive)."""
        return self.today - timedelta(days=self.rng.randint(newest, oldest))

    def pick(self, value: _T | tuple[_T, ...]) -> _T:
        """``value``, or one drawn from it when it is a tuple of choices."""
        return self.rng.choice(value) if isinstance(value, tuple) else value

    def number(self, unit: str, pattern: str, year: int, start: tuple[int, int] = (12, 60)) -> str:
        """The next document number of ``unit`` in ``pattern`` (``{y}`` year, ``{n}`` number).

        Unique per unit: the counter of a (unit, pattern) only grows, whatever the year.
        """
        key = (unit, pattern)
        step = self.numbering.randint(1, 7)
        n = self._numbers[key] + step if key in self._numbers else self.numbering.randint(*start)
        self._numbers[key] = n
        return pattern.format(y=year, n=n)

    def window(self, severity: Severity, decided: date, months: int | None = None) -> date | None:
        """End of the publicity window (national rule): MINOR none; GENERAL 3-12, SERIOUS 12-36 months."""
        if severity is Severity.MINOR:
            return None
        if months is None:
            months = self.rng.choice((6, 12, 12) if severity is Severity.GENERAL else (24, 36, 36))
        low, high = (3, 12) if severity is Severity.GENERAL else (12, 36)
        assert low <= months <= high
        return add_months(decided, months)

    def workers(self, low: int = 2, high: int = 30) -> int:
        return self.rng.randint(low, high)

    def responsible(self, org: Org) -> str:
        """The person a decision names, anonymized as decisions are published: 张某某."""
        surname = self.plan.people[org.representative].surname if org.representative is not None else "王"
        return surname + "某某"

    def add(self, record: Rec) -> Rec:
        self.records.append(record)
        return record

    def violation_for(self, org: Org, choices: Iterable[Violation]) -> Violation:
        fitting = [v for v in choices if v.industries is None or org.industry in v.industries]
        return self.rng.choice(fitting)

    def court(self, person: Person) -> District:
        """A defaulter who represents an organization is enforced against where it is, the others where they are
        registered."""
        for org in self.plan.orgs:
            if org.representative is not None and self.plan.people[org.representative] == person:
                return org.district
        return DISTRICT_BY_CODE[person.id_number[:6]]

    # -- record kinds of organizations

    def penalty(self, org: Org, step: Step, decided: date) -> Rec:
        assert step.severity is not None
        severity = self.pick(step.severity)
        v = step.violation or self.violation_for(org, PENALTIES)
        workers = self.workers(*v.workers) if severity is not Severity.MINOR else self.workers(1, 3)
        if severity is Severity.MINOR:
            kind, amount = "警告", 0
        else:
            kind = "罚款"
            low, high = v.fine
            amount = (workers if v.per_worker else 1) * self.rng.randint(low, high)
            amount = max(100, round(amount, -2))
        if self.rng.random() < 0.3:
            unit, pattern = ENFORCEMENT, "沪人社监罚〔{y}〕{n}号"
        else:
            unit, pattern = org.district.bureau, org.district.abbr + "人社监罚〔{y}〕{n}号"
        fulfilled = step.fulfilled
        if fulfilled is None:  # paid within the 15 days of 行政处罚法 art. 67, unless the decision is recent
            fulfilled = (self.today - decided).days > 45 or self.rng.random() < 0.3
        corrected = min(self.today, decided + timedelta(days=self.rng.randint(5, 30))) if fulfilled else None
        details: dict[str, Any] = {
            "violation": v.text,
            "penalty": kind,
            "amount_yuan": amount,
            "responsible_person": self.responsible(org),
        }
        if v.per_worker:
            details["workers"] = workers
        if severity is Severity.MINOR:
            details["note"] = "违法行为轻微，不属于失信信息（沪人社规〔2023〕26号第五条第（二）项），仍计入信用等级评价"
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.ADMINISTRATIVE_PENALTY,
                severity=severity,
                title=f"{TITLE_ZH[RecordType.ADMINISTRATIVE_PENALTY]}：{v.text}",
                decision_number=self.number(unit, pattern, decided.year),
                source_unit=unit,
                legal_basis=v.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(20, 90)),
                decided_on=decided,
                publicity_until=self.window(severity, decided),
                penalty_fulfilled=fulfilled,
                corrected_on=corrected,
                details=details,
            )
        )

    def corrected(self, org: Org, step: Step, decided: date) -> Rec:
        v = self.violation_for(org, CORRECTIONS)
        workers = self.workers(1, 15)
        deadline = self.rng.randint(5, 15)
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.VIOLATION_CORRECTED,
                severity=None,
                title=f"{TITLE_ZH[RecordType.VIOLATION_CORRECTED]}：{v.text}",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社监令〔{y}〕{n}号", decided.year
                ),
                source_unit=org.district.bureau,
                legal_basis=v.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(10, 60)),
                decided_on=decided,
                publicity_until=None,
                penalty_fulfilled=None,
                corrected_on=min(self.today, decided + timedelta(days=self.rng.randint(2, deadline))),
                details={
                    "violation": v.text,
                    "workers": workers,
                    "order": "责令限期改正",
                    "deadline_days": deadline,
                },
            )
        )

    def false_materials(self, org: Org, step: Step, decided: date) -> Rec:
        subsidy = self.rng.choice(SUBSIDIES)
        amount = round(self.rng.randint(8000, 120000), -2)
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.FALSE_MATERIALS,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.FALSE_MATERIALS]}：申领{subsidy}时提供虚假用工材料",
                decision_number=self.number(EMPLOYMENT_CENTRE, "沪就促核〔{y}〕{n}号", decided.year),
                source_unit=EMPLOYMENT_CENTRE,
                legal_basis=step.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(30, 120)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided),
                penalty_fulfilled=None,
                corrected_on=min(self.today, decided + timedelta(days=self.rng.randint(10, 40))),
                details={"subsidy": subsidy, "amount_yuan": amount, "refunded": True, "penalized": False},
            )
        )

    def broken_commitment(self, org: Org, step: Step, decided: date) -> Rec:
        matter = self.rng.choice(COMMITMENT_MATTERS)
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.BROKEN_COMMITMENT,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.BROKEN_COMMITMENT]}：以告知承诺方式办理{matter}，核查发现承诺不实",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社承诺核〔{y}〕{n}号", decided.year
                ),
                source_unit=org.district.bureau,
                legal_basis=step.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(30, 180)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided),
                penalty_fulfilled=None,
                corrected_on=None,
                details={"matter": matter, "finding": "承诺条件与实际情况不符", "penalized": False},
            )
        )

    def arbitration_lost(self, org: Org, step: Step, decided: date) -> Rec:
        claim = self.rng.choice(ARBITRATION_CLAIMS)
        if self.rng.random() < 0.3:
            unit, pattern = CITY_ARBITRATION, "沪劳人仲（{y}）办字第{n}号"
        else:
            unit, pattern = org.district.arbitration, org.district.abbr + "劳人仲（{y}）办字第{n}号"
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.ARBITRATION_LOST,
                severity=None,
                title=f"{TITLE_ZH[RecordType.ARBITRATION_LOST]}：{claim}",
                decision_number=self.number(unit, pattern, decided.year, (200, 900)),
                source_unit=unit,
                legal_basis=None,
                occurred_on=decided - timedelta(days=self.rng.randint(45, 120)),
                decided_on=decided,
                publicity_until=None,
                penalty_fulfilled=None,
                corrected_on=None,
                details={
                    "claim": claim,
                    "amount_yuan": round(self.rng.randint(6000, 180000), -2),
                    "claimants": 1,
                },
            )
        )

    def interview(self, org: Org, step: Step, decided: date) -> Rec:
        assert step.title is not None
        topic = self.pick(step.title)
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.INTERVIEW,
                severity=None,
                title=f"{TITLE_ZH[RecordType.INTERVIEW]}：{topic}",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社约〔{y}〕{n}号", decided.year
                ),
                source_unit=org.district.bureau,
                legal_basis=None,
                occurred_on=None,
                decided_on=decided,
                publicity_until=None,
                penalty_fulfilled=None,
                corrected_on=None,
                details={
                    "topic": topic,
                    "interviewee": self.responsible(org),
                    "interviewee_role": "主要负责人",
                },
            )
        )

    def org_award(self, org: Org, step: Step, decided: date) -> Rec:
        assert step.title is not None
        return self.award(org.uscc, decided, self.pick(step.title), individual=False)

    def harmonious(self, org: Org, step: Step, decided: date) -> Rec:
        pattern = "沪人社关〔{y}〕" + str(10 + decided.year % 100) + "号-{n:03d}"
        return self.add(
            Rec(
                subject=org.uscc,
                type=RecordType.HARMONIOUS_LABOR_RELATIONS,
                severity=None,
                title=f"{TITLE_ZH[RecordType.HARMONIOUS_LABOR_RELATIONS]}：市级劳动关系和谐企业",
                decision_number=self.number(CITY_BUREAU, pattern, decided.year, (1, 9)),
                source_unit=CITY_BUREAU,
                legal_basis=None,
                occurred_on=None,
                decided_on=decided,
                publicity_until=None,
                penalty_fulfilled=None,
                corrected_on=None,
                details={
                    "designation": "市级劳动关系和谐企业",
                    "level": "市级",
                    "labor_contract_attested": True,  # WG art. 9(2): 严格执行劳动合同制度
                    "valid_until": add_months(decided, 36).isoformat(),
                },
            )
        )

    def blacklist(self, org: Org, step: Step, decided: date) -> Rec:
        """A listing (人社部令第45号): 3 years from the listing decision; the legal representative with it."""
        assert step.arrears is not None
        arrears, workers, rep = step.arrears.yuan, step.arrears.workers, step.of_representative
        if rep:
            assert org.representative is not None
            subject = self.plan.people[org.representative].id_number
        else:
            subject = org.uscc
        particular = f"（法定代表人，随{org.name}列入）" if rep else f"（拖欠{workers}名农民工工资）"
        details: dict[str, Any] = {
            "arrears_yuan": arrears,
            "workers": workers,
            "listing_until": add_months(decided, 36).isoformat(),
        }
        if rep:
            details.update({"listed_with": org.name, "listed_with_uscc": org.uscc, "role": "法定代表人"})
        else:
            details.update(
                {
                    "project": f"{org.district.name}{trade_name(self.rng)}苑住宅项目",
                    "responsible_person": self.responsible(org),
                }
            )
        return self.add(
            Rec(
                subject=subject,
                type=RecordType.WAGE_ARREARS_BLACKLIST,
                severity=Severity.SERIOUS,
                title=f"{TITLE_ZH[RecordType.WAGE_ARREARS_BLACKLIST]}{particular}",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社欠薪惩〔{y}〕{n}号", decided.year, (1, 9)
                ),
                source_unit=org.district.bureau,
                legal_basis=step.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(60, 150)),
                decided_on=decided,
                publicity_until=self.window(Severity.SERIOUS, decided, 36),
                penalty_fulfilled=None,
                corrected_on=None,
                details=details,
            )
        )

    # -- record kinds of individuals

    def defaulter(self, person: Person, step: Step, decided: date) -> Rec:
        amount = round(self.rng.randint(30000, 2_000_000), -3)
        district = self.court(person)
        return self.add(
            Rec(
                subject=person.id_number,
                type=RecordType.JUDGMENT_DEFAULTER,
                severity=Severity.SERIOUS,
                title=f"{TITLE_ZH[RecordType.JUDGMENT_DEFAULTER]}：有履行能力而拒不履行生效法律文书确定义务",
                decision_number=self.number(
                    district.court_name, "（{y}）沪" + district.court + "执{n}号", decided.year, (1000, 3000)
                ),
                source_unit=district.court_name,
                legal_basis=step.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(90, 300)),
                decided_on=decided,
                # 最高人民法院 rule art. 2: a listing lasts two years in general.
                publicity_until=self.window(Severity.SERIOUS, decided, 24),
                penalty_fulfilled=None,
                corrected_on=None,
                details={"unperformed_amount_yuan": amount, "case_type": "首次执行", "status": "全部未履行"},
            )
        )

    def person_false_materials(self, person: Person, step: Step, decided: date) -> Rec:
        benefit = self.rng.choice(BENEFITS)
        amount = round(self.rng.randint(3000, 40000), -2)
        return self.add(
            Rec(
                subject=person.id_number,
                type=RecordType.FALSE_MATERIALS,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.FALSE_MATERIALS]}：以伪造证明材料骗取{benefit}",
                decision_number=self.number(SOCIAL_INSURANCE_CENTRE, "沪社保稽〔{y}〕{n}号", decided.year),
                source_unit=SOCIAL_INSURANCE_CENTRE,
                legal_basis=step.basis,
                occurred_on=decided - timedelta(days=self.rng.randint(60, 200)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided, 12),
                penalty_fulfilled=True,
                corrected_on=decided + timedelta(days=self.rng.randint(5, 20)),
                details={"benefit": benefit, "amount_yuan": amount, "refunded": True},
            )
        )

    def person_award(self, person: Person, step: Step, decided: date) -> Rec:
        assert step.title is not None
        return self.award(person.id_number, decided, self.pick(step.title), individual=True)

    # -- shared by both

    def award(self, subject: str, decided: date, title: str, individual: bool) -> Rec:
        doc = 40 + decided.year % 100  # one commendation document a year; the list position makes it unique
        pattern = "沪人社〔{y}〕" + str(doc) + "号-{n:03d}"
        return self.add(
            Rec(
                subject=subject,
                type=RecordType.AWARD,
                severity=None,
                title=f"{TITLE_ZH[RecordType.AWARD]}：{title}",
                decision_number=self.number(CITY_BUREAU, pattern, decided.year, (1, 9)),
                source_unit=CITY_BUREAU,
                legal_basis=None,
                occurred_on=None,
                decided_on=decided,
                publicity_until=None,
                penalty_fulfilled=None,
                corrected_on=None,
                details={"honor": title, "level": "市级", "recipient": "个人" if individual else "单位"},
            )
        )


# The record types each kind of subject can hold, and how each is made.
ORGANIZATION_RECORDS: dict[RecordType, Callable[[Records, Org, Step, date], Rec]] = {
    RecordType.ADMINISTRATIVE_PENALTY: Records.penalty,
    RecordType.VIOLATION_CORRECTED: Records.corrected,
    RecordType.FALSE_MATERIALS: Records.false_materials,
    RecordType.BROKEN_COMMITMENT: Records.broken_commitment,
    RecordType.ARBITRATION_LOST: Records.arbitration_lost,
    RecordType.INTERVIEW: Records.interview,
    RecordType.AWARD: Records.org_award,
    RecordType.HARMONIOUS_LABOR_RELATIONS: Records.harmonious,
    RecordType.WAGE_ARREARS_BLACKLIST: Records.blacklist,
}
PERSON_RECORDS: dict[RecordType, Callable[[Records, Person, Step, date], Rec]] = {
    RecordType.JUDGMENT_DEFAULTER: Records.defaulter,
    RecordType.FALSE_MATERIALS: Records.person_false_materials,
    RecordType.AWARD: Records.person_award,
}
