"""The auditor reads the audit log through the API; `hrss-credit audit verify` finds a tampered entry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from store import audit
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import refused_by_schema

runner = CliRunner()
LOG = "{ auditLog(first: 10) { edges { node { actor audience operation subjectIds fieldsReturned purpose hash } } } }"


async def test_auditor_reads_the_log_and_nothing_else(api: Api) -> None:
    org = await factories.organization(api.engine)
    await api.gql(
        "query Check($u: String!) { subject(ref: {uscc: $u}) { name } }",
        {"u": org["uscc"]},
        as_client="procurement",
        headers={"X-Purpose": "bid-42"},
    )
    body = await api.gql(LOG, as_client="auditor")
    entries = [e["node"] for e in body["data"]["auditLog"]["edges"]]
    first = entries[-1]
    assert (first["actor"], first["audience"], first["operation"], first["purpose"]) == (
        "procurement",
        "procurement",
        "Check",
        "bid-42",
    )
    assert first["fieldsReturned"] == ["Query.subject", "Subject.name"]
    assert len(first["hash"]) == 64
    refused = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]}, as_client="auditor"
    )
    assert refused_by_schema(refused, "Query", "subject")
    assert refused_by_schema(await api.gql(LOG, as_client="procurement"), "Query", "auditLog")


async def test_audit_verify_reports_the_first_broken_link(api: Api, database_url: str, tmp_path: Path) -> None:
    org = await factories.organization(api.engine)
    for _ in range(3):
        await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
    async with api.engine.connect() as conn:
        # The app's sealer chains the entries in the background.
        assert await audit.wait_until_sealed(conn, within=10)
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
    ok = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "audit chain intact: 3 entries" in ok.output
    async with api.engine.begin() as conn:
        second = (await conn.execute(sa.text("SELECT id FROM audit_log ORDER BY id OFFSET 1 LIMIT 1"))).scalar_one()
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text("UPDATE audit_log SET purpose = 'rewritten' WHERE id = :i"), {"i": second})
    broken = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and f"broken at entry {second}" in broken.output
