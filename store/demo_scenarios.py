"""The demo scenarios (store.demo): who holds which records, dated relative to the seed day.

One row per scenario. A company row says how many companies play it and the grade their records are laid out
to produce (DESIGN.md "Grades", WG art. 8-13); a person row names the individuals who play it. A row's steps
are its records, in the order they are made.

Everything is drawn from seeded generators in a fixed order: companies are dealt to the rows in row order,
then the organizations' records are made in the population's order and the individuals' after them, each
subject's step by step. Editing the table therefore redraws what follows the first draw it moves, and the
counts and named subjects in docs/demo-data.md need checking again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from domain.taxonomy import GradeLevel, RecordType, Severity
from store.demo_data import (
    BENEFIT_FRAUD_BASIS,
    BLACKLIST_BASIS,
    BROKEN_COMMITMENT_BASIS,
    DEFAULTER_BASIS,
    FALSE_MATERIALS_BASIS,
    INTERVIEW_TOPICS,
    ORG_AWARDS,
    SERIOUS_PENALTY,
    Violation,
)

# --- What a row says ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaysAgo:
    """A fixed day, ``days`` before the seed day."""

    days: int


@dataclass(frozen=True)
class MonthsAgo:
    """The same day ``months`` months before the seed day (listings last a number of months)."""

    months: int


@dataclass(frozen=True)
class Between:
    """A day drawn between ``newest`` and ``oldest`` days before the seed day (both inclusive)."""

    newest: int
    oldest: int


@dataclass(frozen=True)
class AfterFirst:
    """A day drawn ``low`` to ``high`` days after the row's first record.

    The step is skipped unless all those days lie before the seed day: a follow-up that could still be to
    come is left out rather than dated in the future.
    """

    low: int
    high: int


When: TypeAlias = DaysAgo | MonthsAgo | Between | AfterFirst


@dataclass(frozen=True)
class Chance:
    """The step happens when a uniform draw in [0, 1) falls in [``at_least``, ``below``).

    Steps of a row that name the same ``draw`` share one (alternatives: one, the other or neither); a chance
    without a name draws afresh.
    """

    below: float
    at_least: float = 0.0
    draw: str | None = None


@dataclass(frozen=True)
class Objection:
    """The subject objected to the record; received ``working_days_ago`` working days before the seed day."""

    reason: str
    working_days_ago: int
    external: bool  # another department must verify (WG art. 20: 10 working days instead of 3)


@dataclass(frozen=True)
class Revocation:
    on: DaysAgo
    reason: str


@dataclass(frozen=True)
class Repair:
    """An approved credit repair; the record was published for ``published_months`` until it was repaired."""

    applied: DaysAgo
    decided: DaysAgo
    published_months: int  # counted from the decision; replaces the window the record was made with
    reason: str  # the record's status reason
    statement: str  # the subject's
    decision: str


Then: TypeAlias = Objection | Revocation | Repair


@dataclass(frozen=True)
class Arrears:
    yuan: int
    workers: int


@dataclass(frozen=True)
class Step:
    """One record of a row. The options after ``on`` apply to some record types only (see each)."""

    type: RecordType
    on: When
    chance: Chance | None = None  # None: always
    of_representative: bool = False  # blacklistings: the company's legal representative, listed with it
    basis: str | None = None  # the legal basis, when the type has a fixed one (penalties cite their violation's)
    severity: Severity | tuple[Severity, ...] | None = None  # penalties; a tuple is drawn from, after the day
    violation: Violation | None = None  # penalties; None: one drawn among those that fit the industry
    fulfilled: bool | None = None  # penalties; None: paid when over 45 days old, else by chance
    title: str | tuple[str, ...] | None = None  # interviews' topic, awards' honour; a tuple is drawn from
    arrears: Arrears | None = None  # blacklistings
    then: Then | None = None  # what became of the record


@dataclass(frozen=True)
class Scenario:
    """Companies that hold the same kind of records and are laid out to get the same grade."""

    name: str
    grade: GradeLevel
    companies: int
    steps: tuple[Step, ...] = ()
    representative: int | None = None  # None: an ordinary individual represents each company
    construction: bool = False  # named as a construction company (wage arrears of migrant workers)


@dataclass(frozen=True)
class PersonScenario:
    name: str
    people: tuple[int, ...]  # indexes into the population's individuals
    steps: tuple[Step, ...]


# --- The population's shape --------------------------------------------------------------------------------

PEOPLE = 200
COMPANIES = 185  # the rows' companies, then PLAIN ones up to this number

# Individuals with a part to play; the other individuals are legal representatives of ordinary employers.
BLACKLIST_REP = 0  # listed with the blacklisted employer (人社部令第45号)
DEFAULTER = 1  # judgment defaulter who is the legal representative of an employer (SH 9(2)2)
OLD_BLACKLIST_REP = 2  # listed with an employer whose listing has expired
OTHER_DEFAULTERS = (3, 4, 5, 6)
FALSE_MATERIALS_PEOPLE = (7, 8)  # obtained social-insurance benefits with forged papers
AWARDED = (9, 10, 11)  # 上海市技术能手
REPRESENTATIVES_FROM = 12

# --- The rows ----------------------------------------------------------------------------------------------

# Working days before the seed day on which the pending objections were received.
_YESTERDAY, _DAY_BEFORE = 1, 2


def _listing(on: When, arrears: Arrears) -> tuple[Step, Step]:
    """A blacklisting (人社部令第45号) of a company and, with it, of its legal representative."""
    company = Step(RecordType.WAGE_ARREARS_BLACKLIST, on, basis=BLACKLIST_BASIS, arrears=arrears)
    return company, Step(
        RecordType.WAGE_ARREARS_BLACKLIST, on, of_representative=True, basis=BLACKLIST_BASIS, arrears=arrears
    )


_PENALTY = RecordType.ADMINISTRATIVE_PENALTY
_CORRECTED = RecordType.VIOLATION_CORRECTED
_FALSE_MATERIALS = RecordType.FALSE_MATERIALS
_ARBITRATION = RecordType.ARBITRATION_LOST
_INTERVIEW = RecordType.INTERVIEW
_AWARD = RecordType.AWARD
_HARMONIOUS = RecordType.HARMONIOUS_LABOR_RELATIONS

_A_PLUS = (
    Step(_HARMONIOUS, Between(60, 1000)),
    Step(_AWARD, Between(30, 1500), chance=Chance(0.5), title=ORG_AWARDS),
)

COMPANY_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "blacklist",
        GradeLevel.C,
        1,
        (
            Step(_INTERVIEW, DaysAgo(152), title="欠薪风险隐患约谈主要负责人"),  # a month before the listing
            *_listing(DaysAgo(122), Arrears(1_386_500, 57)),  # about four months ago
        ),
        representative=BLACKLIST_REP,
        construction=True,
    ),
    Scenario(
        "penalty_objection",
        GradeLevel.C,
        1,
        (
            Step(
                _PENALTY,
                DaysAgo(26),
                severity=Severity.GENERAL,
                fulfilled=False,
                then=Objection(
                    "处罚决定认定的涉及劳动者人数有误，其中部分人员为非全日制用工，不适用决定书所列情形，"
                    "请求核查后更正。",
                    _YESTERDAY,
                    external=False,
                ),
            ),
        ),
    ),
    Scenario("penalty_minor", GradeLevel.C, 1, (Step(_PENALTY, Between(40, 200), severity=Severity.MINOR),)),
    Scenario(
        "penalty_serious",
        GradeLevel.C,
        2,
        (Step(_PENALTY, Between(30, 300), severity=Severity.SERIOUS, violation=SERIOUS_PENALTY),),
    ),
    Scenario(
        "penalty",
        GradeLevel.C,
        25,
        (
            Step(_PENALTY, Between(10, 330), severity=Severity.GENERAL),
            # WG art. 17(3)
            Step(_INTERVIEW, AfterFirst(5, 20), chance=Chance(0.4), title="约谈主要负责人、直接责任人"),
            # Some have a history, which a records page then shows.
            Step(_CORRECTED, Between(420, 1200), chance=Chance(0.15, draw="history")),
            Step(_ARBITRATION, Between(730, 1460), chance=Chance(0.3, at_least=0.15, draw="history")),
        ),
    ),
    Scenario(
        "corrected",
        GradeLevel.B,
        20,
        (
            Step(_CORRECTED, Between(20, 330)),
            Step(_ARBITRATION, Between(730, 1400), chance=Chance(0.2)),
        ),
    ),
    Scenario(
        "false_materials_objection",
        GradeLevel.B,
        1,
        (
            Step(
                _FALSE_MATERIALS,
                Between(60, 200),
                basis=FALSE_MATERIALS_BASIS,
                then=Objection(
                    "本单位申报的用工材料真实，所涉人员社会保险缴费记录因单位迁址后税务征缴信息未同步而缺失，"
                    "请求向税务部门核查缴费信息后更正。",
                    _DAY_BEFORE,
                    external=True,
                ),
            ),
        ),
    ),
    Scenario(
        "false_materials", GradeLevel.B, 5, (Step(_FALSE_MATERIALS, Between(20, 330), basis=FALSE_MATERIALS_BASIS),)
    ),
    Scenario(
        "broken_commitment",
        GradeLevel.B,
        4,
        (Step(RecordType.BROKEN_COMMITMENT, Between(20, 330), basis=BROKEN_COMMITMENT_BASIS),),
    ),
    Scenario("aplus", GradeLevel.A_PLUS, 18, _A_PLUS),
    Scenario(
        "aplus_old_arbitration",
        GradeLevel.A_PLUS,
        2,
        # More than 60 months ago: outside the A+ window (WG art. 9).
        (*_A_PLUS, Step(_ARBITRATION, Between(2200, 2550))),
    ),
    Scenario(
        "award",
        GradeLevel.A,
        10,
        (
            Step(_AWARD, Between(30, 1000), title=ORG_AWARDS),
            Step(_INTERVIEW, Between(20, 300), chance=Chance(0.3), title=INTERVIEW_TOPICS),
        ),
    ),
    Scenario(
        "old_penalty",
        GradeLevel.A,
        15,
        # 13 to 30 months ago: outside "the last year" of WG art. 12.
        (
            Step(
                _PENALTY,
                Between(400, 900),
                severity=(Severity.GENERAL, Severity.GENERAL, Severity.MINOR),
                fulfilled=True,
            ),
        ),
    ),
    Scenario("defaulter_rep", GradeLevel.A, 1, representative=DEFAULTER),
    Scenario(
        "revoked",
        GradeLevel.A,
        1,
        (
            Step(
                _PENALTY,
                DaysAgo(150),
                severity=Severity.GENERAL,
                fulfilled=False,
                then=Revocation(DaysAgo(61), "原处罚决定经行政复议被撤销，撤销决定已送达，公示信息已撤回"),
            ),
        ),
    ),
    Scenario(
        "repaired",
        GradeLevel.A,
        1,
        (
            Step(
                _PENALTY,
                DaysAgo(490),  # about 16 months ago; the minimum window of 1 year passed
                severity=Severity.SERIOUS,
                violation=SERIOUS_PENALTY,
                fulfilled=True,
                then=Repair(
                    applied=DaysAgo(74),
                    decided=DaysAgo(60),
                    published_months=36,
                    reason="信用修复申请已准予：最短公示期已满，已纠正违法行为、履行处罚决定并作出信用承诺",
                    statement="本单位已全额退回骗取的工伤保险待遇并缴清罚款，已完成整改，"
                    "郑重承诺今后严格遵守社会保险法律法规。",
                    decision="准予修复：最短公示期一年已届满，违法行为已纠正，行政处罚决定已履行，已作出信用承诺。",
                ),
            ),
        ),
    ),
    Scenario(
        "old_blacklist",
        GradeLevel.A,
        1,
        _listing(MonthsAgo(40), Arrears(412_000, 23)),  # the 3-year listing ended four months ago
        representative=OLD_BLACKLIST_REP,
        construction=True,
    ),
    Scenario(
        "harmonious_arbitration",
        GradeLevel.A,
        2,
        (Step(_HARMONIOUS, Between(60, 700)), Step(_ARBITRATION, Between(730, 1460))),
    ),
    Scenario(
        "arbitration_objection",
        GradeLevel.A,
        1,
        (
            Step(
                _ARBITRATION,
                Between(730, 900),
                then=Objection(
                    "本单位不服该仲裁裁决已依法向人民法院起诉，生效判决已驳回劳动者的诉讼请求，"
                    "该仲裁裁决未发生法律效力，请求撤回败诉记录。",
                    _YESTERDAY,
                    external=False,
                ),
            ),
        ),
    ),
    Scenario("arbitration", GradeLevel.A, 9, (Step(_ARBITRATION, Between(730, 1460)),)),
    Scenario("old_corrected", GradeLevel.A, 6, (Step(_CORRECTED, Between(420, 1200)),)),
    Scenario("interview", GradeLevel.A, 6, (Step(_INTERVIEW, Between(20, 300), title=INTERVIEW_TOPICS),)),
)
# The companies beyond the rows' and all the other organizations: no records.
PLAIN = Scenario("plain", GradeLevel.A, 0)
SCENARIO_BY_NAME = {s.name: s for s in (*COMPANY_SCENARIOS, PLAIN)}

# The individuals' records are made after all the organizations', in this order.
PERSON_SCENARIOS: tuple[PersonScenario, ...] = (
    PersonScenario(
        "representing_defaulter",
        (DEFAULTER,),
        (Step(RecordType.JUDGMENT_DEFAULTER, Between(90, 250), basis=DEFAULTER_BASIS),),
    ),
    PersonScenario(
        "other_defaulters",
        OTHER_DEFAULTERS,
        (Step(RecordType.JUDGMENT_DEFAULTER, Between(30, 600), basis=DEFAULTER_BASIS),),
    ),
    PersonScenario(
        "benefit_fraud",
        FALSE_MATERIALS_PEOPLE,
        (Step(_FALSE_MATERIALS, Between(60, 300), basis=BENEFIT_FRAUD_BASIS),),
    ),
    PersonScenario("awarded", AWARDED, (Step(_AWARD, Between(100, 900), title="上海市技术能手"),)),
)

# Named subjects: (role, name of the organization's scenario) or (role, index of the individual).
NAMED: tuple[tuple[str, str | int], ...] = (
    ("A+ employer", "aplus"),
    ("A employer", "award"),
    ("A employer with an old penalty (outside the 12-month window)", "old_penalty"),
    ("harmonious-designated employer graded A (arbitration lost within 60 months)", "harmonious_arbitration"),
    ("B employer", "corrected"),
    ("C employer (administrative penalty)", "penalty"),
    ("wage-arrears blacklisted employer", "blacklist"),
    ("legal representative listed with the blacklisted employer (individual)", BLACKLIST_REP),
    ("judgment defaulter (individual)", DEFAULTER),
    ("organization whose legal representative is a judgment defaulter", "defaulter_rep"),
    ("employer with a record under objection", "penalty_objection"),
    ("employer with a revoked penalty", "revoked"),
    ("employer with a repaired record", "repaired"),
)
