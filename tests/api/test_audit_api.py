"""The auditor reads the audit log through the API; `hrss-credit audit verify` finds a tampered entry and, with
the checkpoints kept outside the database, a chain rewritten by its owner; `audit seal` chains by hand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from auth.keys import SigningKeys
from store import audit
from store.db import create_engine
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


async def _sealed(api: Api) -> None:
    """The app's sealer chains entries in the background: wait (with a deadline) until it has."""
    async with api.engine.connect() as conn:
        assert await audit.wait_until_sealed(conn, within=10)


async def test_audit_verify_reports_the_first_broken_link(api: Api, database_url: str, tmp_path: Path) -> None:
    org = await factories.organization(api.engine)
    for _ in range(3):
        await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
    await _sealed(api)
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
    ok = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "audit chain intact: 3 entries" in ok.output
    assert "not sealed yet: 0 entries" in ok.output
    async with api.engine.begin() as conn:
        second = (await conn.execute(sa.text("SELECT id FROM audit_log ORDER BY id OFFSET 1 LIMIT 1"))).scalar_one()
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text("UPDATE audit_log SET purpose = 'rewritten' WHERE id = :i"), {"i": second})
    broken = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and f"broken at entry {second}" in broken.output


async def test_kept_checkpoints_catch_a_chain_its_owner_rewrote(
    api: Api, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    """The auditor keeps the exported checkpoints; the table owner rewrites an entry, rebuilds a chain that
    verifies on its own and deletes the stored checkpoints: `audit verify --checkpoints` still catches it."""
    org = await factories.organization(api.engine)
    for _ in range(3):
        await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
    await _sealed(api)
    # The API's own data directory: the command signs with the key of the JWKS the API serves.
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(settings.data_dir)}
    signed = await asyncio.to_thread(runner.invoke, app, ["audit", "checkpoint"], env=env)
    assert signed.exit_code == 0, signed.output
    kept = tmp_path / "checkpoints.jsonl"
    exported = await asyncio.to_thread(runner.invoke, app, ["audit", "checkpoints", "-o", str(kept)], env=env)
    assert exported.exit_code == 0, exported.output
    lines = [orjson.loads(line) for line in kept.read_text().splitlines()]
    assert orjson.loads(signed.stdout) in lines
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes((await api.client.get("/.well-known/jwks.json")).content)
    auditor = ["audit", "verify", "--checkpoints", str(kept), "--jwks", str(jwks)]
    ok = await asyncio.to_thread(runner.invoke, app, auditor, env=env)
    assert ok.exit_code == 0 and "audit chain intact: 3 entries" in ok.output, ok.output

    async with api.engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        await conn.execute(sa.text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        await conn.execute(
            sa.text("UPDATE audit_log SET purpose = 'rewritten' WHERE id = (SELECT min(id) FROM audit_log)")
        )
        await conn.execute(sa.text("UPDATE audit_log SET prev_hash = NULL, hash = NULL"))
        await conn.execute(sa.text("SELECT audit_log_seal(9223372036854775807, 100000)"))
        await conn.execute(sa.text("DELETE FROM audit_checkpoints"))
        await conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        await conn.execute(sa.text("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER"))
    inside = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert inside.exit_code == 0, inside.output  # nothing inside the database can tell
    caught = await asyncio.to_thread(runner.invoke, app, auditor, env=env)
    assert caught.exit_code == 1
    assert f"checkpoint at entry {lines[-1]['entry_id']} does not hold" in caught.output
    assert "the entry's hash is not the one signed" in caught.output


async def test_audit_verify_refuses_a_checkpoint_it_cannot_check(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
    kept = tmp_path / "checkpoints.jsonl"
    kept.write_text("not.a.checkpoint\n")
    no_key = await asyncio.to_thread(runner.invoke, app, ["audit", "verify", "--checkpoints", str(kept)], env=env)
    assert no_key.exit_code == 2 and "--jwks" in no_key.output
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(orjson.dumps(SigningKeys.generate().public_jwks()))
    args = ["audit", "verify", "--checkpoints", str(kept), "--jwks", str(jwks)]
    forged = await asyncio.to_thread(runner.invoke, app, args, env=env)
    assert forged.exit_code == 1 and "checkpoints.jsonl line 1" in forged.output


async def test_audit_seal_chains_by_hand_and_stands_aside_for_a_running_sealer(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        async with engine.begin() as conn:
            for n in range(4):
                await audit.append(
                    conn, audit.AuditEntry(actor=f"c{n}", operation="q", operation_type="query", outcome="ok")
                )
        env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
        async with engine.connect() as holder:
            assert await audit.try_lock_sealer(holder)
            await holder.commit()
            aside = await asyncio.to_thread(runner.invoke, app, ["audit", "seal"], env=env)
            assert aside.exit_code == 0 and "another sealer is running (PostgreSQL backend" in aside.output
            await audit.unlock_sealer(holder)
            await holder.commit()
        sealed = await asyncio.to_thread(runner.invoke, app, ["audit", "seal"], env=env)
        assert sealed.exit_code == 0 and "sealed 4 entries" in sealed.output, sealed.output
        no_key = await asyncio.to_thread(runner.invoke, app, ["audit", "seal", "--checkpoint"], env=env)
        assert no_key.exit_code == 2 and "no signing key" in no_key.output
        async with engine.connect() as conn:
            report = await audit.verify(conn)
        assert (report.entries, report.unsealed, report.first_broken_id) == (4, 0, None)
    finally:
        await engine.dispose()
