"""Demo data: a fictitious Shanghai population of employers and people with credit records of every type.

Loaded by ``hrss-credit seed-demo`` (or at start-up with ``HRSS_SEED_DEMO_ON_START``) into an empty
database so that a newcomer can query the API at once; docs/demo-data.md describes what it holds and names
the subjects to try. Everything is generated from fixed seeds (``random.Random`` instances, never the
module-level functions), so the same names, USCCs and ID numbers come out on every machine; record dates are
counted back from ``today`` so that the intended grades (DESIGN.md "Grades", WG art. 8-13) hold whenever the
demo is loaded. The grading engine is not called here: the records are laid out so that its result is
already determined (the grades and restrictions tables are left to it).

Publicity windows follow the national repair rule (国家发展改革委令2025年第36号), counted from the
decision date: MINOR not published (NULL), GENERAL between 3 months and 1 year, SERIOUS between 1 and 3
years; BASIC and ENHANCING records have no window. The constant tables (places, units, names, violations and
the provisions cited) are in store.demo_data. All names are invented; any resemblance to a real entity is
coincidental.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache, partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identifiers import make_id_number, make_uscc, mask_id_number
from domain.taxonomy import (
    CATEGORY_OF,
    TITLE_ZH,
    GradeLevel,
    ObjectionStatus,
    RecordStatus,
    RecordType,
    RepairStatus,
    Severity,
    SubjectKind,
)
from store.demo_data import (
    ARBITRATION_CLAIMS,
    ASSOCIATIONS,
    BENEFIT_FRAUD_BASIS,
    BENEFITS,
    BLACKLIST_BASIS,
    BROKEN_COMMITMENT_BASIS,
    CITY_ARBITRATION,
    CITY_BUREAU,
    COMMITMENT_MATTERS,
    CONSTRUCTION_SUFFIXES,
    CORRECTIONS,
    DEFAULTER_BASIS,
    DISTRICT_BY_CODE,
    DISTRICTS,
    EMPLOYMENT_CENTRE,
    ENFORCEMENT,
    FALSE_MATERIALS_BASIS,
    FEMALE_CHARS,
    INDUSTRIES,
    INTERVIEW_TOPICS,
    MALE_CHARS,
    ORG_AWARDS,
    OTHER_ORGS,
    OTHER_REGIONS,
    PENALTIES,
    PUBLIC_INSTITUTIONS,
    RURAL,
    SERIOUS_PENALTY,
    SHOPS,
    SOCIAL_INSURANCE_CENTRE,
    SUBSIDIES,
    SURNAMES,
    TRADE_CHARS,
    District,
    Violation,
)
from store.pii import PiiCipher
from store.records import CONTENT_FIELDS, content_digest
from store.tables import credit_records, objections, repairs, subjects

__all__ = ["DemoSubject", "DemoSummary", "is_empty", "named_subjects", "seed_demo"]

SEED = 20231001
"""The seed of the subject population (names and identifiers). Records use ``SEED + 1``, their document
numbers ``SEED + 2``."""

CREATED_BY = "demo-seed"

_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class DemoSubject:
    """A subject the README names so that a newcomer can query it at once."""

    role: str
    name: str
    uscc: str | None
    id_number: str | None


@dataclass(frozen=True)
class DemoSummary:
    organizations: int
    individuals: int
    records: int
    objections: int
    named: tuple[DemoSubject, ...]


# --- The subject population (independent of ``today``) -----------------------------------------------------


@dataclass(frozen=True)
class _Person:
    name: str
    id_number: str

    @property
    def surname(self) -> str:
        return self.name[0]


@dataclass(frozen=True)
class _Org:
    name: str
    uscc: str
    district: District
    industry: str  # tag of INDUSTRIES, "public" for the non-company organizations
    representative: int | None  # index into _Plan.people
    grade: GradeLevel  # the grade the records are laid out to produce
    scenario: str


@dataclass(frozen=True)
class _Plan:
    people: tuple[_Person, ...]
    orgs: tuple[_Org, ...]


# Individuals with a part to play; the other individuals are legal representatives of ordinary employers.
_P_BLACKLIST_REP = 0  # listed with the blacklisted employer (人社部令第45号)
_P_DEFAULTER = 1  # judgment defaulter who is the legal representative of an employer (SH 9(2)2)
_P_OLD_BLACKLIST_REP = 2  # listed with an employer whose listing has expired
_P_OTHER_DEFAULTERS = (3, 4, 5, 6)
_P_FALSE_MATERIALS = (7, 8)  # obtained social-insurance benefits with forged papers
_P_AWARDED = (9, 10, 11)  # 上海市技术能手
_P_REPRESENTATIVES_FROM = 12
_PEOPLE = 200

# (scenario, intended grade, how many companies). Non-company organizations are all "plain" (grade A).
_COMPANY_SCENARIOS: tuple[tuple[str, GradeLevel, int], ...] = (
    ("blacklist", GradeLevel.C, 1),
    ("penalty_objection", GradeLevel.C, 1),
    ("penalty_minor", GradeLevel.C, 1),
    ("penalty_serious", GradeLevel.C, 2),
    ("penalty", GradeLevel.C, 25),
    ("corrected", GradeLevel.B, 20),
    ("false_materials_objection", GradeLevel.B, 1),
    ("false_materials", GradeLevel.B, 5),
    ("broken_commitment", GradeLevel.B, 4),
    ("aplus", GradeLevel.A_PLUS, 18),
    ("aplus_old_arbitration", GradeLevel.A_PLUS, 2),
    ("award", GradeLevel.A, 10),
    ("old_penalty", GradeLevel.A, 15),
    ("defaulter_rep", GradeLevel.A, 1),
    ("revoked", GradeLevel.A, 1),
    ("repaired", GradeLevel.A, 1),
    ("old_blacklist", GradeLevel.A, 1),
    ("harmonious_arbitration", GradeLevel.A, 2),
    ("arbitration_objection", GradeLevel.A, 1),
    ("arbitration", GradeLevel.A, 9),
    ("old_corrected", GradeLevel.A, 6),
    ("interview", GradeLevel.A, 6),
)
_COMPANIES = 185
# Named subjects: (role, scenario of the organization) or (role, index of the individual).
_NAMED: tuple[tuple[str, str | int], ...] = (
    ("A+ employer", "aplus"),
    ("A employer", "award"),
    ("A employer with an old penalty (outside the 12-month window)", "old_penalty"),
    ("harmonious-designated employer graded A (arbitration lost within 60 months)", "harmonious_arbitration"),
    ("B employer", "corrected"),
    ("C employer (administrative penalty)", "penalty"),
    ("wage-arrears blacklisted employer", "blacklist"),
    ("legal representative listed with the blacklisted employer (individual)", _P_BLACKLIST_REP),
    ("judgment defaulter (individual)", _P_DEFAULTER),
    ("organization whose legal representative is a judgment defaulter", "defaulter_rep"),
    ("employer with a record under objection", "penalty_objection"),
    ("employer with a revoked penalty", "revoked"),
    ("employer with a repaired record", "repaired"),
)


def _trade_name(rng: random.Random) -> str:
    first, second = rng.sample(TRADE_CHARS, 2)
    return first + second


def _make_people(rng: random.Random) -> tuple[_Person, ...]:
    people: list[_Person] = []
    names: set[str] = set()
    numbers: set[str] = set()
    first_day, last_day = date(1960, 1, 1), date(2000, 12, 31)
    while len(people) < _PEOPLE:
        male = rng.random() < 0.6
        chars = MALE_CHARS if male else FEMALE_CHARS
        given = "".join(rng.sample(chars, rng.choice((1, 2, 2))))
        name = rng.choice(SURNAMES) + given
        # The people with a part to play are registered in Shanghai, so their courts are Shanghai courts.
        if len(people) < _P_REPRESENTATIVES_FROM or rng.random() < 0.75:
            region = rng.choice(DISTRICTS).code
        else:
            region = rng.choice(OTHER_REGIONS)
        birth = first_day + timedelta(days=rng.randint(0, (last_day - first_day).days))
        # GB 11643-1999: the sequence number is odd for men, even for women.
        sequence = rng.randrange(1 if male else 0, 1000, 2)
        number = make_id_number(region, birth, sequence)
        if name in names or number in numbers:
            continue
        names.add(name)
        numbers.add(number)
        people.append(_Person(name, number))
    return tuple(people)


def _org_code_body(rng: random.Random) -> str:
    """Positions 9-16 of a USCC: newer registrations look like MA1xxxxx, older ones keep an 8-digit code."""
    if rng.random() < 0.65:
        return "MA1" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(5))
    return "".join(rng.choice("0123456789") for _ in range(8))


def _uscc(rng: random.Random, authority: str, org_type: str, district: District) -> str:
    return make_uscc(authority, org_type, district.code, _org_code_body(rng))


def _company_name(rng: random.Random, suffix: str) -> str:
    return f"上海{_trade_name(rng)}{suffix}"


def _other_org_name(rng: random.Random, kind: str, district: District) -> str:
    trade = _trade_name(rng)
    if kind == "shop":
        return f"上海市{district.name}{trade}{rng.choice(SHOPS)}"
    if kind == "cooperative":
        return f"上海{trade}蔬果专业合作社"
    if kind == "agency":
        return f"上海市{district.name}机关事务管理局"
    if kind == "institution":
        return f"上海市{district.name}{rng.choice(PUBLIC_INSTITUTIONS)}"
    if kind == "association":
        return f"上海市{district.name}{rng.choice(ASSOCIATIONS)}"
    if kind == "school":
        return f"上海市{district.name}{trade}职业技能培训学校"
    if kind == "village":
        return f"上海市{district.name}{trade}村股份经济合作社"
    return f"上海市{district.name}{trade}邻里互助服务社"


@lru_cache(maxsize=1)
def _plan() -> _Plan:
    """The subjects: names and identifiers depend on the seed only, never on ``today``."""
    rng = random.Random(SEED)
    people = _make_people(rng)
    names: set[str] = set()
    usccs: set[str] = set()

    def unique(make_name: Callable[[], str], make_code: Callable[[], str]) -> tuple[str, str]:
        while True:
            name, code = make_name(), make_code()
            if name not in names and code not in usccs:
                names.add(name)
                usccs.add(code)
                return name, code

    slots: list[tuple[str, GradeLevel]] = [(s, g) for s, g, n in _COMPANY_SCENARIOS for _ in range(n)]
    slots += [("plain", GradeLevel.A)] * (_COMPANIES - len(slots))
    representatives = list(range(_P_REPRESENTATIVES_FROM, len(people)))
    rng.shuffle(representatives)
    special_rep = {
        "blacklist": _P_BLACKLIST_REP,
        "defaulter_rep": _P_DEFAULTER,
        "old_blacklist": _P_OLD_BLACKLIST_REP,
    }
    next_rep = 0

    def take_rep() -> int:
        # A few people represent two organizations, as happens.
        nonlocal next_rep
        rep = representatives[next_rep % len(representatives)]
        next_rep += 1
        return rep

    orgs: list[_Org] = []
    rep: int | None
    for scenario, grade in slots:
        district = rng.choice(DISTRICTS)
        if scenario in ("blacklist", "old_blacklist"):  # wage arrears of migrant workers: construction
            suffix, industry = rng.choice(CONSTRUCTION_SUFFIXES), "construction"
        else:
            suffix, industry = rng.choice(INDUSTRIES)
        name, uscc = unique(
            partial(_company_name, rng, suffix),
            partial(_uscc, rng, "9", "1", district),
        )
        rep = special_rep[scenario] if scenario in special_rep else take_rep()
        orgs.append(_Org(name, uscc, district, industry, rep, grade, scenario))
    for authority, org_type, count, kind in OTHER_ORGS:
        for _ in range(count):
            district = rng.choice(RURAL if kind in ("village", "cooperative") else DISTRICTS)
            name, uscc = unique(
                partial(_other_org_name, rng, kind, district),
                partial(_uscc, rng, authority, org_type, district),
            )
            # 个体工商户 have an operator (经营者), not a legal representative.
            rep = None if kind == "shop" else take_rep()
            orgs.append(_Org(name, uscc, district, "public", rep, GradeLevel.A, "plain"))
    rng.shuffle(orgs)  # so that row ids say nothing about grades
    return _Plan(people, tuple(orgs))


def named_subjects() -> tuple[DemoSubject, ...]:
    """The subjects docs/demo-data.md names, computed without touching the database (deterministic)."""
    plan = _plan()
    named: list[DemoSubject] = []
    for role, which in _NAMED:
        if isinstance(which, int):
            person = plan.people[which]
            named.append(DemoSubject(role, person.name, None, person.id_number))
        else:
            org = next(o for o in plan.orgs if o.scenario == which)
            named.append(DemoSubject(role, org.name, org.uscc, None))
    return tuple(named)


# --- Dates -------------------------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month when shorter (31 Jan + 1 → 28 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Working days are counted Monday to Friday here, deliberately: the demo only needs plausible deadlines and
# ``deadlines_provisional`` is stored false. A later issue replaces this with the official calendar
# (chinesecalendar plus the holiday table, DESIGN.md "Objections and repair"), which knows holidays and
# make-up working days (调休); until then a demo loaded around a public holiday may show a deadline that the
# official count would put a few days later.
def _is_working_day(day: date) -> bool:
    return day.weekday() < 5


def _working_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if _is_working_day(day):
            count -= 1
    return day


def _working_days_after(day: date, count: int) -> date:
    """``count`` working days after ``day``; the day of receipt itself is not counted (民法典 art. 201)."""
    while count:
        day += timedelta(days=1)
        if _is_working_day(day):
            count -= 1
    return day


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=_SHANGHAI)


# --- Records (dates relative to ``today``) ---------------------------------------------------------------


@dataclass
class _Rec:
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

    def content(self) -> dict[str, Any]:
        """The content fields (store.records.CONTENT_FIELDS) as JSON values, dates as ISO strings.

        The digest is computed over this form, which is what an import of the same record computes from its
        JSON payload, so re-sending a demo record through the API is recognized as unchanged.
        """
        values: dict[str, Any] = {
            "type": self.type.value,
            "category": CATEGORY_OF[self.type].value,
            "severity": self.severity.value if self.severity else None,
            "title": self.title,
            "decision_number": self.decision_number,
            "source_unit": self.source_unit,
            "legal_basis": self.legal_basis,
            "occurred_on": self.occurred_on.isoformat() if self.occurred_on else None,
            "decided_on": self.decided_on.isoformat(),
            "publicity_until": self.publicity_until.isoformat() if self.publicity_until else None,
            "penalty_fulfilled": self.penalty_fulfilled,
            "corrected_on": self.corrected_on.isoformat() if self.corrected_on else None,
            "details": self.details,
        }
        assert set(values) == set(CONTENT_FIELDS)
        return values


@dataclass(frozen=True)
class _ObjectionSpec:
    record: _Rec
    reason: str
    received_on: date
    external: bool


@dataclass(frozen=True)
class _RepairSpec:
    record: _Rec
    statement: str
    submitted_on: date
    decided_on: date
    decision: str


@dataclass
class _Records:
    plan: _Plan
    today: date
    rng: random.Random = field(default_factory=lambda: random.Random(SEED + 1))
    # Document numbers draw from their own generator: their patterns hold the year, which depends on
    # ``today``, and must not shift the draws of ``rng``: every ``today`` gets the same records, dated anew.
    numbering: random.Random = field(default_factory=lambda: random.Random(SEED + 2))
    records: list[_Rec] = field(default_factory=list)
    objections: list[_ObjectionSpec] = field(default_factory=list)
    repairs: list[_RepairSpec] = field(default_factory=list)
    _numbers: dict[tuple[str, str], int] = field(default_factory=dict)

    # -- helpers

    def ago(self, newest: int, oldest: int) -> date:
        """A day between ``newest`` and ``oldest`` days before today (both inclusive)."""
        return self.today - timedelta(days=self.rng.randint(newest, oldest))

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
        return _add_months(decided, months)

    def workers(self, low: int = 2, high: int = 30) -> int:
        return self.rng.randint(low, high)

    def responsible(self, org: _Org) -> str:
        """The person a decision names, anonymized as decisions are published: 张某某."""
        surname = self.plan.people[org.representative].surname if org.representative is not None else "王"
        return surname + "某某"

    def add(self, record: _Rec) -> _Rec:
        self.records.append(record)
        return record

    def violation_for(self, org: _Org, choices: Iterable[Violation]) -> Violation:
        fitting = [v for v in choices if v.industries is None or org.industry in v.industries]
        return self.rng.choice(fitting)

    # -- record kinds

    def penalty(
        self,
        org: _Org,
        decided: date,
        severity: Severity,
        *,
        violation: Violation | None = None,
        fulfilled: bool | None = None,
    ) -> _Rec:
        v = violation or self.violation_for(org, PENALTIES)
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
            _Rec(
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

    def corrected(self, org: _Org, decided: date) -> _Rec:
        v = self.violation_for(org, CORRECTIONS)
        workers = self.workers(1, 15)
        deadline = self.rng.randint(5, 15)
        return self.add(
            _Rec(
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

    def false_materials(self, org: _Org, decided: date) -> _Rec:
        subsidy = self.rng.choice(SUBSIDIES)
        amount = round(self.rng.randint(8000, 120000), -2)
        return self.add(
            _Rec(
                subject=org.uscc,
                type=RecordType.FALSE_MATERIALS,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.FALSE_MATERIALS]}：申领{subsidy}时提供虚假用工材料",
                decision_number=self.number(EMPLOYMENT_CENTRE, "沪就促核〔{y}〕{n}号", decided.year),
                source_unit=EMPLOYMENT_CENTRE,
                legal_basis=FALSE_MATERIALS_BASIS,
                occurred_on=decided - timedelta(days=self.rng.randint(30, 120)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided),
                penalty_fulfilled=None,
                corrected_on=min(self.today, decided + timedelta(days=self.rng.randint(10, 40))),
                details={"subsidy": subsidy, "amount_yuan": amount, "refunded": True, "penalized": False},
            )
        )

    def broken_commitment(self, org: _Org, decided: date) -> _Rec:
        matter = self.rng.choice(COMMITMENT_MATTERS)
        return self.add(
            _Rec(
                subject=org.uscc,
                type=RecordType.BROKEN_COMMITMENT,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.BROKEN_COMMITMENT]}：以告知承诺方式办理{matter}，核查发现承诺不实",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社承诺核〔{y}〕{n}号", decided.year
                ),
                source_unit=org.district.bureau,
                legal_basis=BROKEN_COMMITMENT_BASIS,
                occurred_on=decided - timedelta(days=self.rng.randint(30, 180)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided),
                penalty_fulfilled=None,
                corrected_on=None,
                details={"matter": matter, "finding": "承诺条件与实际情况不符", "penalized": False},
            )
        )

    def arbitration_lost(self, org: _Org, decided: date) -> _Rec:
        claim = self.rng.choice(ARBITRATION_CLAIMS)
        if self.rng.random() < 0.3:
            unit, pattern = CITY_ARBITRATION, "沪劳人仲（{y}）办字第{n}号"
        else:
            unit, pattern = org.district.arbitration, org.district.abbr + "劳人仲（{y}）办字第{n}号"
        return self.add(
            _Rec(
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

    def interview(self, org: _Org, decided: date, topic: str | None = None) -> _Rec:
        topic = topic or self.rng.choice(INTERVIEW_TOPICS)
        return self.add(
            _Rec(
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

    def award(self, subject: str, decided: date, title: str, individual: bool = False) -> _Rec:
        doc = 40 + decided.year % 100  # one commendation document a year; the list position makes it unique
        pattern = "沪人社〔{y}〕" + str(doc) + "号-{n:03d}"
        return self.add(
            _Rec(
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

    def harmonious(self, org: _Org, decided: date) -> _Rec:
        pattern = "沪人社关〔{y}〕" + str(10 + decided.year % 100) + "号-{n:03d}"
        return self.add(
            _Rec(
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
                    "valid_until": _add_months(decided, 36).isoformat(),
                },
            )
        )

    def blacklist(self, subject: str, org: _Org, decided: date, arrears: int, workers: int, rep: bool) -> _Rec:
        """A listing (人社部令第45号): 3 years from the listing decision; the legal representative with it."""
        particular = f"（法定代表人，随{org.name}列入）" if rep else f"（拖欠{workers}名农民工工资）"
        details: dict[str, Any] = {
            "arrears_yuan": arrears,
            "workers": workers,
            "listing_until": _add_months(decided, 36).isoformat(),
        }
        if rep:
            details.update({"listed_with": org.name, "listed_with_uscc": org.uscc, "role": "法定代表人"})
        else:
            details.update(
                {
                    "project": f"{org.district.name}{_trade_name(self.rng)}苑住宅项目",
                    "responsible_person": self.responsible(org),
                }
            )
        return self.add(
            _Rec(
                subject=subject,
                type=RecordType.WAGE_ARREARS_BLACKLIST,
                severity=Severity.SERIOUS,
                title=f"{TITLE_ZH[RecordType.WAGE_ARREARS_BLACKLIST]}{particular}",
                decision_number=self.number(
                    org.district.bureau, org.district.abbr + "人社欠薪惩〔{y}〕{n}号", decided.year, (1, 9)
                ),
                source_unit=org.district.bureau,
                legal_basis=BLACKLIST_BASIS,
                occurred_on=decided - timedelta(days=self.rng.randint(60, 150)),
                decided_on=decided,
                publicity_until=self.window(Severity.SERIOUS, decided, 36),
                penalty_fulfilled=None,
                corrected_on=None,
                details=details,
            )
        )

    def defaulter(self, person: _Person, district: District, decided: date) -> _Rec:
        amount = round(self.rng.randint(30000, 2_000_000), -3)
        return self.add(
            _Rec(
                subject=person.id_number,
                type=RecordType.JUDGMENT_DEFAULTER,
                severity=Severity.SERIOUS,
                title=f"{TITLE_ZH[RecordType.JUDGMENT_DEFAULTER]}：有履行能力而拒不履行生效法律文书确定义务",
                decision_number=self.number(
                    district.court_name, "（{y}）沪" + district.court + "执{n}号", decided.year, (1000, 3000)
                ),
                source_unit=district.court_name,
                legal_basis=DEFAULTER_BASIS,
                occurred_on=decided - timedelta(days=self.rng.randint(90, 300)),
                decided_on=decided,
                # 最高人民法院 rule art. 2: a listing lasts two years in general.
                publicity_until=self.window(Severity.SERIOUS, decided, 24),
                penalty_fulfilled=None,
                corrected_on=None,
                details={"unperformed_amount_yuan": amount, "case_type": "首次执行", "status": "全部未履行"},
            )
        )

    def person_false_materials(self, person: _Person, decided: date) -> _Rec:
        benefit = self.rng.choice(BENEFITS)
        amount = round(self.rng.randint(3000, 40000), -2)
        return self.add(
            _Rec(
                subject=person.id_number,
                type=RecordType.FALSE_MATERIALS,
                severity=Severity.GENERAL,
                title=f"{TITLE_ZH[RecordType.FALSE_MATERIALS]}：以伪造证明材料骗取{benefit}",
                decision_number=self.number(SOCIAL_INSURANCE_CENTRE, "沪社保稽〔{y}〕{n}号", decided.year),
                source_unit=SOCIAL_INSURANCE_CENTRE,
                legal_basis=BENEFIT_FRAUD_BASIS,
                occurred_on=decided - timedelta(days=self.rng.randint(60, 200)),
                decided_on=decided,
                publicity_until=self.window(Severity.GENERAL, decided, 12),
                penalty_fulfilled=True,
                corrected_on=decided + timedelta(days=self.rng.randint(5, 20)),
                details={"benefit": benefit, "amount_yuan": amount, "refunded": True},
            )
        )

    # -- status changes kept for history

    def object_to(self, record: _Rec, reason: str, received_on: date, external: bool) -> None:
        record.status = RecordStatus.UNDER_OBJECTION
        record.status_changed_at = _at(received_on)
        record.status_reason = "异议申请处理中"
        self.objections.append(_ObjectionSpec(record, reason, received_on, external))

    # -- the scenarios

    def build(self) -> None:
        plan, today = self.plan, self.today
        # Objections were received on the last working day or the one before (Monday to Friday, see above).
        yesterday, day_before = _working_days_before(today, 1), _working_days_before(today, 2)
        for org in plan.orgs:
            s = org.scenario
            if s == "blacklist":
                decided = today - timedelta(days=122)  # about four months ago
                self.interview(org, decided - timedelta(days=30), "欠薪风险隐患约谈主要负责人")
                arrears, workers = 1_386_500, 57
                self.blacklist(org.uscc, org, decided, arrears, workers, rep=False)
                rep = plan.people[_P_BLACKLIST_REP]
                self.blacklist(rep.id_number, org, decided, arrears, workers, rep=True)
            elif s == "old_blacklist":
                decided = _add_months(today, -40)  # the 3-year listing ended four months ago
                arrears, workers = 412_000, 23
                self.blacklist(org.uscc, org, decided, arrears, workers, rep=False)
                rep = plan.people[_P_OLD_BLACKLIST_REP]
                self.blacklist(rep.id_number, org, decided, arrears, workers, rep=True)
            elif s == "penalty_objection":
                record = self.penalty(org, today - timedelta(days=26), Severity.GENERAL, fulfilled=False)
                self.object_to(
                    record,
                    "处罚决定认定的涉及劳动者人数有误，其中部分人员为非全日制用工，不适用决定书所列情形，"
                    "请求核查后更正。",
                    yesterday,
                    external=False,
                )
            elif s == "penalty_minor":
                self.penalty(org, self.ago(40, 200), Severity.MINOR)
            elif s == "penalty_serious":
                self.penalty(org, self.ago(30, 300), Severity.SERIOUS, violation=SERIOUS_PENALTY)
            elif s == "penalty":
                decided = self.ago(10, 330)
                self.penalty(org, decided, Severity.GENERAL)
                if self.rng.random() < 0.4 and (today - decided).days > 20:  # WG art. 17(3)
                    self.interview(org, decided + timedelta(days=self.rng.randint(5, 20)), "约谈主要负责人、直接责任人")
                history = self.rng.random()  # some have a history, which a records page then shows
                if history < 0.15:
                    self.corrected(org, self.ago(420, 1200))
                elif history < 0.3:
                    self.arbitration_lost(org, self.ago(730, 1460))
            elif s == "corrected":
                self.corrected(org, self.ago(20, 330))
                if self.rng.random() < 0.2:
                    self.arbitration_lost(org, self.ago(730, 1400))
            elif s == "false_materials_objection":
                record = self.false_materials(org, self.ago(60, 200))
                self.object_to(
                    record,
                    "本单位申报的用工材料真实，所涉人员社会保险缴费记录因单位迁址后税务征缴信息未同步而缺失，"
                    "请求向税务部门核查缴费信息后更正。",
                    day_before,
                    external=True,
                )
            elif s == "false_materials":
                self.false_materials(org, self.ago(20, 330))
            elif s == "broken_commitment":
                self.broken_commitment(org, self.ago(20, 330))
            elif s in ("aplus", "aplus_old_arbitration"):
                self.harmonious(org, self.ago(60, 1000))
                if self.rng.random() < 0.5:
                    self.award(org.uscc, self.ago(30, 1500), self.rng.choice(ORG_AWARDS))
                if s == "aplus_old_arbitration":  # more than 60 months ago: outside the A+ window (WG art. 9)
                    self.arbitration_lost(org, self.ago(2200, 2550))
            elif s == "harmonious_arbitration":
                self.harmonious(org, self.ago(60, 700))
                self.arbitration_lost(org, self.ago(730, 1460))
            elif s == "award":
                self.award(org.uscc, self.ago(30, 1000), self.rng.choice(ORG_AWARDS))
                if self.rng.random() < 0.3:
                    self.interview(org, self.ago(20, 300))
            elif s == "old_penalty":
                # 13 to 30 months ago: outside "the last year" of WG art. 12.
                self.penalty(
                    org,
                    self.ago(400, 900),
                    self.rng.choice((Severity.GENERAL, Severity.GENERAL, Severity.MINOR)),
                    fulfilled=True,
                )
            elif s == "revoked":
                record = self.penalty(org, today - timedelta(days=150), Severity.GENERAL, fulfilled=False)
                record.status = RecordStatus.REVOKED
                record.status_changed_at = _at(today - timedelta(days=61))
                record.status_reason = "原处罚决定经行政复议被撤销，撤销决定已送达，公示信息已撤回"
            elif s == "repaired":
                decided = today - timedelta(days=490)  # about 16 months ago; the minimum window of 1 year passed
                record = self.penalty(org, decided, Severity.SERIOUS, violation=SERIOUS_PENALTY, fulfilled=True)
                record.publicity_until = _add_months(decided, 36)  # still published until it was repaired
                repaired = today - timedelta(days=60)
                record.status = RecordStatus.REPAIRED
                record.status_changed_at = _at(repaired, 15)
                record.status_reason = "信用修复申请已准予：最短公示期已满，已纠正违法行为、履行处罚决定并作出信用承诺"
                self.repairs.append(
                    _RepairSpec(
                        record,
                        "本单位已全额退回骗取的工伤保险待遇并缴清罚款，已完成整改，郑重承诺今后严格遵守社会保险法律法规。",
                        repaired - timedelta(days=14),
                        repaired,
                        "准予修复：最短公示期一年已届满，违法行为已纠正，行政处罚决定已履行，已作出信用承诺。",
                    )
                )
            elif s == "arbitration_objection":
                record = self.arbitration_lost(org, self.ago(730, 900))
                self.object_to(
                    record,
                    "本单位不服该仲裁裁决已依法向人民法院起诉，生效判决已驳回劳动者的诉讼请求，"
                    "该仲裁裁决未发生法律效力，请求撤回败诉记录。",
                    yesterday,
                    external=False,
                )
            elif s == "arbitration":
                self.arbitration_lost(org, self.ago(730, 1460))
            elif s == "old_corrected":
                self.corrected(org, self.ago(420, 1200))
            elif s == "interview":
                self.interview(org, self.ago(20, 300))
        # Individuals.
        defaulter_org = next(o for o in plan.orgs if o.scenario == "defaulter_rep")
        self.defaulter(plan.people[_P_DEFAULTER], defaulter_org.district, self.ago(90, 250))
        for index in _P_OTHER_DEFAULTERS:
            person = plan.people[index]
            self.defaulter(person, DISTRICT_BY_CODE[person.id_number[:6]], self.ago(30, 600))
        for index in _P_FALSE_MATERIALS:
            self.person_false_materials(plan.people[index], self.ago(60, 300))
        for index in _P_AWARDED:
            self.award(plan.people[index].id_number, self.ago(100, 900), "上海市技术能手", individual=True)


def _build(today: date) -> _Records:
    built = _Records(_plan(), today)
    built.build()
    keys = [r.key for r in built.records]
    assert len(set(keys)) == len(keys), "decision numbers must be unique per source unit"
    assert all(r.decided_on <= today for r in built.records)
    return built


# --- Loading -----------------------------------------------------------------------------------------------


async def is_empty(conn: AsyncConnection) -> bool:
    """True when the database holds no subject yet (the demo is only loaded into an empty database)."""
    return (await conn.execute(sa.select(subjects.c.id).limit(1))).first() is None


async def seed_demo(conn: AsyncConnection, pii: PiiCipher, *, today: date) -> DemoSummary:
    """Insert the demo population and its records; the caller owns (and commits) the transaction.

    Five multi-row statements: individuals, organizations, records, objections, repairs. Ids are matched back
    by natural key (ID-number hash, USCC, source unit + decision number), not by row order.
    """
    plan = _plan()
    built = _build(today)
    subject_id = await _insert_people(conn, pii, plan)
    subject_id.update(await _insert_orgs(conn, plan, subject_id))
    record_id = await _insert_records(conn, built.records, subject_id)
    objection_rows = [_objection_row(o, record_id, subject_id) for o in built.objections]
    if objection_rows:
        await conn.execute(objections.insert(), objection_rows)
    repair_rows = [_repair_row(r, record_id, subject_id) for r in built.repairs]
    if repair_rows:
        await conn.execute(repairs.insert(), repair_rows)
    return DemoSummary(
        organizations=len(plan.orgs),
        individuals=len(plan.people),
        records=len(built.records),
        objections=len(objection_rows),
        named=named_subjects(),
    )


async def _insert_people(conn: AsyncConnection, pii: PiiCipher, plan: _Plan) -> dict[str, int]:
    """The individuals; returns their ids by ID number."""
    rows = [
        {
            "kind": SubjectKind.INDIVIDUAL.value,
            "name": p.name,
            "id_number_hash": pii.lookup_hash(p.id_number),
            "id_number_enc": pii.encrypt(p.id_number),
            "id_number_masked": mask_id_number(p.id_number),
            "region_code": p.id_number[:6],
        }
        for p in plan.people
    ]
    result = await conn.execute(subjects.insert().returning(subjects.c.id, subjects.c.id_number_hash), rows)
    by_hash = {row.id_number_hash: row.id for row in result}
    return {p.id_number: by_hash[pii.lookup_hash(p.id_number)] for p in plan.people}


async def _insert_orgs(conn: AsyncConnection, plan: _Plan, person_id: dict[str, int]) -> dict[str, int]:
    """The organizations, with their legal representatives' ids; returns their ids by USCC."""
    rows = [
        {
            "kind": SubjectKind.ORGANIZATION.value,
            "name": o.name,
            "uscc": o.uscc,
            "region_code": o.uscc[2:8],
            "legal_representative_id": (
                person_id[plan.people[o.representative].id_number] if o.representative is not None else None
            ),
        }
        for o in plan.orgs
    ]
    result = await conn.execute(subjects.insert().returning(subjects.c.id, subjects.c.uscc), rows)
    return {row.uscc: row.id for row in result}


async def _insert_records(
    conn: AsyncConnection, records: list[_Rec], subject_id: dict[str, int]
) -> dict[tuple[str, str], int]:
    """The records; returns their ids by (source unit, decision number)."""
    rows = [_record_row(r, subject_id) for r in records]
    result = await conn.execute(
        credit_records.insert().returning(
            credit_records.c.id, credit_records.c.source_unit, credit_records.c.decision_number
        ),
        rows,
    )
    return {(row.source_unit, row.decision_number): row.id for row in result}


def _record_row(r: _Rec, subject_id: dict[str, int]) -> dict[str, Any]:
    content = r.content()
    return {
        "subject_id": subject_id[r.subject],
        "version": 1,
        "category": content["category"],
        "type": content["type"],
        "severity": content["severity"],
        "status": r.status.value,
        "title": r.title,
        "decision_number": r.decision_number,
        "source_unit": r.source_unit,
        "legal_basis": r.legal_basis,
        "occurred_on": r.occurred_on,
        "decided_on": r.decided_on,
        "publicity_until": r.publicity_until,
        "penalty_fulfilled": r.penalty_fulfilled,
        "corrected_on": r.corrected_on,
        "details": r.details,
        "content_digest": content_digest(content),
        "created_by": CREATED_BY,
        "status_changed_at": r.status_changed_at,
        "status_reason": r.status_reason,
    }


def _objection_row(
    o: _ObjectionSpec, record_id: dict[tuple[str, str], int], subject_id: dict[str, int]
) -> dict[str, Any]:
    return {
        "record_id": record_id[o.record.key],
        "subject_id": subject_id[o.record.subject],
        "status": ObjectionStatus.SUBMITTED.value,
        "reason": o.reason,
        "submitted_at": _at(o.received_on, 9),
        "submitted_by": CREATED_BY,
        "received_on": o.received_on,
        "needs_external_verification": o.external,
        # WG art. 20: 3 working days, 10 when another department must verify (Monday-Friday here).
        "due_on": _working_days_after(o.received_on, 10 if o.external else 3),
        "deadlines_provisional": False,
    }


def _repair_row(r: _RepairSpec, record_id: dict[tuple[str, str], int], subject_id: dict[str, int]) -> dict[str, Any]:
    return {
        "record_id": record_id[r.record.key],
        "subject_id": subject_id[r.record.subject],
        "status": RepairStatus.APPROVED.value,
        "statement": r.statement,
        "submitted_at": _at(r.submitted_on, 9),
        "submitted_by": CREATED_BY,
        "decided_at": _at(r.decided_on, 15),
        "decided_by": CREATED_BY,
        "decision": r.decision,
    }
