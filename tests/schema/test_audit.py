"""Every read of credit information leaves an audit entry: who, what, which subjects, when, why."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa

from store import audit
from store.tables import audit_log
from tests import factories
from tests.conftest import Api


async def _entries(api: Api) -> list[sa.Row[tuple[object, ...]]]:
    async with api.engine.connect() as conn:
        return list(await conn.execute(sa.select(audit_log).order_by(audit_log.c.id)))


async def test_a_subject_read_is_audited_with_subject_and_purpose(api: Api) -> None:
    org = await factories.organization(api.engine)
    body = await api.gql(
        "query Bidder($u: String!) { subject(ref: {uscc: $u}) { name } }",
        {"u": org["uscc"]},
        as_client="procurement",
        headers={"X-Purpose": quote("招标资格审查 2026-118")},
    )
    assert body["data"]["subject"]["name"]
    [entry] = await _entries(api)
    assert entry.actor == "procurement" and entry.audience == "procurement"
    assert entry.operation == "Bidder" and entry.operation_type == "query"
    assert entry.subject_ids == [org["id"]]
    assert entry.fields_returned == ["Query.subject", "Subject.name"]
    assert entry.purpose == "招标资格审查 2026-118"
    assert entry.outcome == "ok"


async def test_refused_fields_are_audited(api: Api) -> None:
    person = await factories.individual(api.engine)
    body = await api.gql(
        "query ($n: String!) { subject(ref: {idNumber: $n}) { idNumber } }",
        {"n": person["id_number"]},
        as_client="inspection",
    )
    assert "Cannot query field 'idNumber'" in body["errors"][0]["message"]
    [entry] = await _entries(api)
    assert entry.fields_refused == ["Subject.idNumber"]
    assert entry.fields_returned == [] and entry.subject_ids == []


async def test_requests_that_read_nothing_are_not_audited_and_the_chain_holds(api: Api) -> None:
    await api.gql("{ catalogue { recordTypes } }")
    assert await _entries(api) == []
    org = await factories.organization(api.engine)
    for _ in range(3):
        await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
    async with api.engine.connect() as conn:
        # The app's sealer chains the entries in the background.
        assert await audit.wait_until_sealed(conn, within=10)
        report = await audit.verify(conn)
    assert report.entries == 3 and report.first_broken_id is None and report.unsealed == 0
