"""`hrss-credit receipt verify` on a receipt kept in a file (valid, tampered, another key), and `audit verify`
catching a receipt id changed in the log afterwards."""

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
from tests.conftest import Api
from tests.schema.test_receipts import RECEIPT, _tampered, bidders
from tests.schema.test_writes import TODAY

runner = CliRunner()


async def _receipt(api: Api) -> dict[str, str]:
    b = await bidders(api)
    body = await api.gql(RECEIPT, {"sector": "GOVERNMENT_PROCUREMENT", "refs": b["refs"]}, as_client="procurement")
    receipt: dict[str, str] = body["data"]["screeningReceipt"]
    return receipt


async def test_receipt_verify_prints_a_valid_receipt_with_the_served_jwks(api: Api, tmp_path: Path) -> None:
    receipt = await _receipt(api)
    kept = tmp_path / "receipt.json"
    kept.write_bytes(orjson.dumps({"data": {"screeningReceipt": receipt}}))
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes((await api.client.get("/.well-known/jwks.json")).content)
    env = {"HRSS_DATA_DIR": str(tmp_path / "elsewhere")}  # no local key: the JWKS given decides
    result = runner.invoke(app, ["receipt", "verify", str(kept), "--jwks", str(jwks)], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"receipt id:  {receipt['receiptId']}" in out
    assert f"signed by key {api.app.state.signing_keys.kid}" in out
    assert f"as of:       {TODAY.isoformat()}" in out and "sector:      GOVERNMENT_PROCUREMENT" in out
    assert "results: 4 references, 1 restricted, 2 not restricted, 1 not found" in out
    assert "第四十八条 (SC 724 art. 48)" in out


async def test_receipt_verify_defaults_to_the_local_signing_key(api: Api, settings: Settings, tmp_path: Path) -> None:
    kept = tmp_path / "receipt.jws"
    kept.write_text((await _receipt(api))["jws"] + "\n")
    env = {"HRSS_DATA_DIR": str(settings.data_dir)}  # where the API keeps the key of its JWKS
    result = runner.invoke(app, ["receipt", "verify", str(kept)], env=env)
    assert result.exit_code == 0, result.output
    no_key = runner.invoke(app, ["receipt", "verify", str(kept)], env={"HRSS_DATA_DIR": str(tmp_path)})
    assert no_key.exit_code == 2 and "--jwks" in no_key.output


async def test_receipt_verify_refuses_a_tampered_receipt_or_another_key(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    token = (await _receipt(api))["jws"]
    env = {"HRSS_DATA_DIR": str(settings.data_dir)}
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(_tampered(token))
    result = runner.invoke(app, ["receipt", "verify", str(tampered)], env=env)
    assert result.exit_code == 1 and "receipt not valid" in result.output
    assert "receipt id" not in result.stdout
    kept = tmp_path / "receipt.jws"
    kept.write_text(token)
    foreign = tmp_path / "foreign-jwks.json"
    foreign.write_bytes(orjson.dumps(SigningKeys.generate().public_jwks()))
    result = runner.invoke(app, ["receipt", "verify", str(kept), "--jwks", str(foreign)], env=env)
    assert result.exit_code == 1 and "receipt not valid" in result.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"data": null}')
    assert runner.invoke(app, ["receipt", "verify", str(garbage)], env=env).exit_code == 1


async def test_audit_verify_catches_a_receipt_id_changed_afterwards(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    receipt_id = (await _receipt(api))["receiptId"]
    async with api.engine.connect() as conn:
        assert await audit.wait_until_sealed(conn, within=10)
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
    ok = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    async with api.engine.begin() as conn:
        entry = (
            await conn.execute(sa.text("SELECT id FROM audit_log WHERE receipt_id = :r"), {"r": receipt_id})
        ).scalar_one()
        # The table's owner bypasses the append-only trigger and names another receipt.
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text("UPDATE audit_log SET receipt_id = 'forged' WHERE id = :i"), {"i": entry})
    broken = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1 and f"broken at entry {entry}" in broken.output
