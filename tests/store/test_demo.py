"""The demo data: what README promises a newcomer is there, and it loads once."""

from __future__ import annotations

import sqlalchemy as sa

from domain.identifiers import validate_id_number, validate_uscc
from domain.taxonomy import RecordType
from store import demo
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
