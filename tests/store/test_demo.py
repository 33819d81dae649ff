"""The demo data: what README promises a newcomer is there, and it loads once."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from domain.identifiers import validate_id_number, validate_uscc
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordType
from store import demo, demo_records, demo_scenarios
from store.db import create_engine
from store.tables import credit_records, objections, subjects
from tests.conftest import DEMO_TODAY, Api


async def test_demo_holds_what_the_readme_promises(demo_database_url: str) -> None:
    engine = create_engine(demo_database_url)
    async with engine.connect() as conn:
        kinds = dict((await conn.execute(sa.select(subjects.c.kind, sa.func.count()).group_by(subjects.c.kind))).all())
        types = {r[0] for r in await conn.execute(sa.select(credit_records.c.type).distinct())}
        usccs = (await conn.execute(sa.select(subjects.c.uscc).where(subjects.c.uscc.is_not(None)))).scalars().all()
        under_objection = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(credit_records)
                .where(credit_records.c.status == "UNDER_OBJECTION")
            )
        ).scalar_one()
        objection_rows = (await conn.execute(sa.select(sa.func.count()).select_from(objections))).scalar_one()
        assert not await demo.is_empty(conn)
    await engine.dispose()
    assert kinds["ORGANIZATION"] >= 200 and kinds["INDIVIDUAL"] >= 50
    assert types == {t.value for t in RecordType}
    assert all(validate_uscc(u) == u for u in usccs)
    assert under_objection >= 3 and objection_rows >= 3


async def test_named_demo_subjects_can_be_queried_at_once(demo_api: Api) -> None:
    query = "query ($ref: SubjectRef!) { subject(ref: $ref) { name kind } }"
    for named in demo.named_subjects():
        ref = {"uscc": named.uscc} if named.uscc else {"idNumber": named.id_number}
        if named.id_number:
            validate_id_number(named.id_number, today=DEMO_TODAY)
        body = await demo_api.gql(query, {"ref": ref})
        assert body["data"]["subject"]["name"] == named.name, named.role


async def test_defaulter_represents_the_named_organization(demo_api: Api) -> None:
    roles = {s.role: s for s in demo.named_subjects()}
    org = next(s for role, s in roles.items() if "legal representative is a judgment defaulter" in role)
    defaulter = next(s for role, s in roles.items() if role.startswith("judgment defaulter"))
    body = await demo_api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { legalRepresentative { name } } }", {"u": org.uscc}
    )
    assert body["data"]["subject"]["legalRepresentative"]["name"] == defaulter.name


async def test_demo_subjects_grade_as_their_roles_say(demo_api: Api) -> None:
    expected = {
        "A+ employer": "A_PLUS",
        "A employer": "A",
        "B employer": "B",
        "C employer (administrative penalty)": "C",
        "wage-arrears blacklisted employer": "C",
    }
    query = "query ($u: String!, $d: Date) { subject(ref: {uscc: $u}) { grade(asOf: $d) { level } } }"
    for named in demo.named_subjects():
        if named.role in expected:
            body = await demo_api.gql(query, {"u": named.uscc, "d": DEMO_TODAY.isoformat()})
            assert body["data"]["subject"]["grade"]["level"] == expected[named.role], named.role


def _rows() -> list[tuple[str, tuple[demo_scenarios.Step, ...]]]:
    companies = [(s.name, s.steps) for s in demo_scenarios.COMPANY_SCENARIOS]
    return companies + [(s.name, s.steps) for s in demo_scenarios.PERSON_SCENARIOS]


def test_every_scenario_names_known_subjects_and_record_types_they_can_hold() -> None:
    companies = demo_scenarios.COMPANY_SCENARIOS
    assert len({s.name for s in companies}) == len(companies)
    assert all(s.companies > 0 for s in companies)
    assert sum(s.companies for s in companies) <= demo_scenarios.COMPANIES
    with_a_part = range(demo_scenarios.REPRESENTATIVES_FROM)
    for scenario in companies:
        assert scenario.representative is None or scenario.representative in with_a_part, scenario.name
        for step in scenario.steps:
            assert step.type in demo_records.ORGANIZATION_RECORDS, (scenario.name, step.type)
    for person_scenario in demo_scenarios.PERSON_SCENARIOS:
        assert person_scenario.people and all(i in with_a_part for i in person_scenario.people), person_scenario.name
        for step in person_scenario.steps:
            assert step.type in demo_records.PERSON_RECORDS, (person_scenario.name, step.type)
    for role, which in demo_scenarios.NAMED:
        assert which in with_a_part if isinstance(which, int) else which in demo_scenarios.SCENARIO_BY_NAME, role
    assert {step.type for _, steps in _rows() for step in steps} == set(RecordType)


def test_every_scenario_step_says_what_its_record_type_needs_and_nothing_else() -> None:
    for name, steps in _rows():
        for position, step in enumerate(steps):
            where = (name, position, step.type)
            penalty = step.type is RecordType.ADMINISTRATIVE_PENALTY
            assert (step.severity is not None) == penalty, where
            assert penalty or (step.violation is None and step.fulfilled is None), where
            # Dishonesty information cites its basis; penalties and corrections cite their violation's.
            cites_violation = step.type in (RecordType.ADMINISTRATIVE_PENALTY, RecordType.VIOLATION_CORRECTED)
            needs_basis = CATEGORY_OF[step.type] is RecordCategory.DISHONESTY and not cites_violation
            assert (step.basis is not None) == needs_basis, where
            assert (step.title is not None) == (step.type in (RecordType.INTERVIEW, RecordType.AWARD)), where
            blacklist = step.type is RecordType.WAGE_ARREARS_BLACKLIST
            assert (step.arrears is not None) == blacklist and (blacklist or not step.of_representative), where
            assert position > 0 or not isinstance(step.on, demo_scenarios.AfterFirst), where
            if isinstance(step.on, demo_scenarios.Between):
                assert 0 <= step.on.newest <= step.on.oldest, where
            if step.chance is not None:
                assert 0 <= step.chance.at_least < step.chance.below <= 1, where


@pytest.mark.parametrize(
    "today", [DEMO_TODAY, date(2024, 2, 29), date(2025, 1, 6), date(2025, 12, 31), date(2027, 3, 1)]
)
def test_every_seed_day_gets_the_same_records_dated_in_order(today: date) -> None:
    built = demo._build(today)
    same = [(r.subject, r.type, r.title, r.status) for r in built.records]
    assert same == [(r.subject, r.type, r.title, r.status) for r in demo._build(DEMO_TODAY).records]
    for r in built.records:
        assert r.occurred_on is None or r.occurred_on <= r.decided_on <= today, r.key
        if r.status_changed_at is not None:
            assert r.decided_on <= r.status_changed_at.date() <= today, r.key
    for o in built.objections:
        assert o.record.decided_on <= o.received_on <= today, o.record.key
    for repair in built.repairs:
        assert repair.record.decided_on <= repair.submitted_on <= repair.decided_on <= today, repair.record.key
