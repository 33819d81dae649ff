"""ID numbers at rest: encrypted, found by keyed hash, never in the clear; the key rotates without losing rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from store.pii import PiiCipher
from store.tables import subjects
from tests import factories
from tests.conftest import TEST_PII_KEY, running_app

NEW_KEY = "a-new-pii-key-for-2027-0123456789abcdefgh"


def test_ciphertext_names_its_key_and_previous_keys_still_decrypt() -> None:
    old = PiiCipher(TEST_PII_KEY)
    blob = old.encrypt("110105194912310029")
    assert b"110105194912310029" not in blob
    rotating = PiiCipher(NEW_KEY, [TEST_PII_KEY])
    assert rotating.decrypt(blob) == "110105194912310029"
    assert not rotating.is_current(blob) and rotating.is_current(rotating.encrypt("110105194912310029"))
    assert rotating.lookup_hashes("110105194912310029")[1] == old.lookup_hash("110105194912310029")
    try:
        PiiCipher(NEW_KEY).decrypt(blob)
    except ValueError as exc:
        assert "not configured" in str(exc)
    else:
        raise AssertionError("a value written under an unknown key must not decrypt")


async def test_no_clear_id_number_is_stored(database_url: str, settings: Settings) -> None:
    async with running_app(settings, database_url) as api:
        person = await factories.individual(api.engine)
        async with api.engine.connect() as conn:
            dump = " ".join(str(v) for r in await conn.execute(sa.select(subjects)) for v in r)
    assert person["id_number"] not in dump
    assert person["id_number"][6:14] not in dump  # not even the birth date (the masked form hides it)


async def test_rotation_keeps_every_subject_findable(database_url: str, settings: Settings, tmp_path: Path) -> None:
    async with running_app(settings, database_url) as api:
        person = await factories.individual(api.engine, "轮换")
    query = "query ($n: String!) { subject(ref: {idNumber: $n}) { name } }"
    rotating = settings.model_copy(
        update={"pii_key": SecretStr(NEW_KEY), "pii_previous_keys": [SecretStr(TEST_PII_KEY)]}
    )
    async with running_app(rotating, database_url) as api:
        body = await api.gql(query, {"n": person["id_number"]}, as_client="inspection")
        assert body["data"]["subject"]["name"] == "轮换"
    env = {
        "DATABASE_URL": database_url,
        "HRSS_DATA_DIR": str(tmp_path),
        "HRSS_PII_KEY": NEW_KEY,
        "HRSS_PII_PREVIOUS_KEYS": f'["{TEST_PII_KEY}"]',
    }
    result = await asyncio.to_thread(CliRunner().invoke, app, ["pii", "rotate"], env=env)
    assert result.exit_code == 0 and "rewrote 1 ID numbers" in result.output
    rotated = settings.model_copy(update={"pii_key": SecretStr(NEW_KEY), "pii_previous_keys": []})
    async with running_app(rotated, database_url) as api:
        body = await api.gql(
            query.replace("name", "name idNumber"),
            {"n": person["id_number"]},
            as_client="admin",
            headers={"X-Purpose": "rotation check"},
        )
        assert body["data"]["subject"] == {"name": "轮换", "idNumber": person["id_number"]}
