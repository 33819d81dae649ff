"""Who read my file (PIPL art. 44-45): me { accessLog }, through the real app and real tokens."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from store import access_log, audit
from store.db import create_engine
from store.demo import named_subjects
from store.paging import Window
from store.tables import audit_log
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import error_codes, refused_by_schema

OWN = next(s for s in named_subjects() if s.uscc and s.role == "C employer (administrative penalty)")
OTHER = next(s for s in named_subjects() if s.uscc and s.role == "B employer")
ACCESS_LOG = """
query MyAccessLog($first: Int, $after: String, $last: Int, $before: String) {
  me { accessLog(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { at audience purpose operation } }
  } }
}
"""
CHECK = "query BidderCheck($u: String!) { subject(ref: {uscc: $u}) { name } }"
SCREEN = "query Screen($u: String!) { screen(sector: BIDDING, refs: [{uscc: $u}]) { restricted } }"


async def _employers(api: Api) -> tuple[dict[str, Any], str]:
    assert OWN.uscc and OTHER.uscc
    own = await factories.organization(api.engine, OWN.name, uscc=OWN.uscc)
    await factories.organization(api.engine, OTHER.name, uscc=OTHER.uscc)
    return own, api.app.state.auth_server.issue_employer_token(OWN.uscc)


async def _read(api: Api, query: str, uscc: str, client: str, purpose: str | None = None) -> None:
    headers = {"X-Purpose": quote(purpose)} if purpose else None
    body = await api.gql(query, {"u": uscc}, as_client=client, headers=headers)
    assert "errors" not in body, body


async def _log(api: Api, token: str, **args: Any) -> dict[str, Any]:
    body = await api.gql(ACCESS_LOG, args, token=token)
    assert "errors" not in body, body
    log: dict[str, Any] = body["data"]["me"]["accessLog"]
    return log


async def test_the_employer_sees_who_read_its_file_newest_first(api: Api) -> None:
    _, token = await _employers(api)
    assert OWN.uscc and OTHER.uscc
    await _read(api, CHECK, OWN.uscc, "procurement", "招标资格审查 2026-118")
    await _read(api, SCREEN, OWN.uscc, "procurement")
    await _read(api, CHECK, OWN.uscc, "inspection", "日常监管")
    await _read(api, CHECK, OTHER.uscc, "finance", "贷款审查")  # another subject's read
    log = await _log(api, token)
    nodes = [e["node"] for e in log["edges"]]
    assert [(n["audience"], n["purpose"], n["operation"]) for n in nodes] == [
        ("inspection", "日常监管", "BidderCheck"),
        ("procurement", None, "Screen"),
        ("procurement", "招标资格审查 2026-118", "BidderCheck"),
    ]
    assert nodes[0]["at"] >= nodes[1]["at"] >= nodes[2]["at"]
    assert log["pageInfo"]["hasNextPage"] is False and log["pageInfo"]["hasPreviousPage"] is False


async def test_the_access_log_names_no_actor_and_nothing_of_other_entries(api: Api) -> None:
    _, token = await _employers(api)
    assert OWN.uscc
    await _read(api, CHECK, OWN.uscc, "procurement", "招标资格审查")
    response = await api.post(ACCESS_LOG, token=token)
    entry = response.json()["data"]["me"]["accessLog"]["edges"][0]["node"]
    assert set(entry) == {"at", "audience", "purpose", "operation"}
    for field in ("actor", "subjectIds", "fieldsReturned", "requestId", "hash"):
        body = await api.gql(f"{{ me {{ accessLog {{ edges {{ node {{ {field} }} }} }} }} }}", token=token)
        assert body["errors"][0]["message"].startswith(f"Cannot query field '{field}' on type 'AccessLogEntry'.")


async def test_the_employers_own_reads_stay_out_of_its_log_but_are_audited(api: Api) -> None:
    own, token = await _employers(api)
    assert OWN.uscc
    await _read(api, CHECK, OWN.uscc, "procurement")
    for _ in range(2):
        log = await _log(api, token)
        assert [e["node"]["audience"] for e in log["edges"]] == ["procurement"]
    async with api.engine.connect() as conn:
        reads = (
            await conn.execute(
                sa.select(audit_log.c.audience, audit_log.c.subject_ids).where(audit_log.c.operation == "MyAccessLog")
            )
        ).all()
    assert reads == [("employer", [own["id"]])] * 2


async def test_the_access_log_pages_both_ways(api: Api) -> None:
    _, token = await _employers(api)
    assert OWN.uscc
    for purpose in ("一", "二", "三"):
        await _read(api, CHECK, OWN.uscc, "procurement", purpose)
    first = await _log(api, token, first=2)
    assert [e["node"]["purpose"] for e in first["edges"]] == ["三", "二"]
    assert (first["pageInfo"]["hasPreviousPage"], first["pageInfo"]["hasNextPage"]) == (False, True)
    rest = await _log(api, token, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["purpose"] for e in rest["edges"]] == ["一"]
    assert (rest["pageInfo"]["hasPreviousPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    oldest = await _log(api, token, last=2)
    assert [e["node"]["purpose"] for e in oldest["edges"]] == ["二", "一"]
    assert (oldest["pageInfo"]["hasPreviousPage"], oldest["pageInfo"]["hasNextPage"]) == (True, False)


async def test_a_malformed_access_log_cursor_is_bad_input(api: Api) -> None:
    _, token = await _employers(api)
    for args, field in (
        ({"after": "czox"}, "after"),
        ({"last": 1, "before": "???"}, "before"),
        ({"first": 101}, "first"),
    ):
        body = await api.gql(ACCESS_LOG, args, token=token)
        assert error_codes(body) == [("BAD_USER_INPUT", field)]


async def test_no_other_audience_has_the_access_log(api: Api) -> None:
    org = await factories.organization(api.engine)
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { accessLog { edges { cursor } } } }"
    for client in ("admin", "inspection", "portal", "procurement"):
        body = await api.gql(query, {"u": org["uscc"]}, as_client=client)
        assert refused_by_schema(body, "Subject", "accessLog"), (client, body)


async def test_the_subject_index_merges_its_pending_list(api: Api) -> None:
    org = await factories.organization(api.engine)
    await _read(api, CHECK, org["uscc"], "procurement")
    async with api.engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL ROLE hrss_app"))  # the API's role, which owns no index
        assert await access_log.merge_index(conn) >= 0
        await conn.execute(sa.text("RESET ROLE"))
        options = (
            await conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'ix_audit_log_subject_ids'"))
        ).scalar_one()
    assert set(options) == {"fastupdate=on", "gin_pending_list_limit=32768"}


async def test_the_access_log_has_sealed_and_unsealed_reads_and_only_sealed_ones_are_indexed(
    database_url: str,
) -> None:
    """PIPL art. 45: a read is in the subject's access log from its commit on, chained or not; the subject index
    takes an entry's keys when it is sealed (migration 0018), so an append writes no index key of its own."""
    engine = create_engine(database_url, pool_size=1)
    try:
        subject = 7_000_001
        entry = audit.AuditEntry(actor="t", operation="Check", operation_type="query", outcome="ok", audience="x")
        async with engine.begin() as conn:
            for purpose in ("sealed", "also sealed"):
                await audit.append(conn, dataclasses.replace(entry, purpose=purpose, subject_ids=(subject, 5)))
        async with engine.connect() as conn:
            await audit.seal(conn)
        async with engine.begin() as conn:
            await audit.append(conn, dataclasses.replace(entry, purpose="unsealed", subject_ids=(3, subject)))
            await audit.append(conn, dataclasses.replace(entry, purpose="another subject", subject_ids=(3,)))
        async with engine.connect() as conn:
            page = await access_log.page(conn, subject, Window(size=10), excluding_audience=None)
            assert [r.purpose for r in page.rows] == ["unsealed", "also sealed", "sealed"]
            two = await access_log.page(conn, subject, Window(size=2), excluding_audience=None)
            assert [r.purpose for r in two.rows] == ["unsealed", "also sealed"] and two.has_next
            indexed = await conn.execute(sa.text("SELECT pg_get_indexdef('ix_audit_log_subject_ids'::regclass)"))
            assert indexed.scalar_one().endswith("WHERE (hash IS NOT NULL)")
    finally:
        await engine.dispose()
