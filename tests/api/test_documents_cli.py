"""``hrss-credit documents add`` and ``list``: trusted documents registered against the audience's schema."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from api.cli import app
from store.db import create_engine
from store.tables import persisted_documents, trusted_documents

runner = CliRunner()

OPERATIONS = """
query Check($u: String!) { subject(ref: {uscc: $u}) { ...Named restrictions(sector: BIDDING) { since } } }
fragment Named on Subject { name uscc }
query Kind($u: String!) { subject(ref: {uscc: $u}) { kind grade { level } } }
"""


async def _invoke(args: list[str], database_url: str, tmp_path: Path) -> Result:
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": "x" * 40}
    return await asyncio.to_thread(runner.invoke, app, args, env=env)


async def test_documents_add_registers_each_operation_and_prints_its_hash(database_url: str, tmp_path: Path) -> None:
    file = tmp_path / "bidding.graphql"
    file.write_text(OPERATIONS, encoding="utf-8")
    added = await _invoke(["documents", "add", str(file), "--audience", "procurement"], database_url, tmp_path)
    assert added.exit_code == 0, added.output
    lines = [line.split("\t") for line in added.stdout.splitlines()]
    assert [(name, kind, state) for name, kind, _, state in lines] == [
        ("Check", "query", "registered"),
        ("Kind", "query", "registered"),
    ]
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        stored = dict(
            (await conn.execute(sa.select(persisted_documents.c.sha256, persisted_documents.c.document))).all()
        )
        trusted = (await conn.execute(sa.select(trusted_documents.c.audience, trusted_documents.c.sha256))).all()
    await engine.dispose()
    # Each operation is kept with the fragments it uses, printed as graphql-js prints it, under the hash printed.
    check = stored[lines[0][2]]
    assert "fragment Named on Subject" in check and "Kind" not in check
    assert hashlib.sha256(check.encode()).hexdigest() == lines[0][2]
    assert "fragment" not in stored[lines[1][2]]
    assert sorted(trusted) == sorted(("procurement", line[2]) for line in lines)
    again = await _invoke(["documents", "add", str(file), "-a", "procurement"], database_url, tmp_path)
    assert again.exit_code == 0 and again.stdout.count("already registered") == 2
    listed = await _invoke(["documents", "list", "--audience", "procurement"], database_url, tmp_path)
    assert listed.exit_code == 0
    assert [line.split("\t")[:4] for line in listed.stdout.splitlines()] == [
        ["procurement", "Check", "query", lines[0][2]],
        ["procurement", "Kind", "query", lines[1][2]],
    ]
    others = await _invoke(["documents", "list", "--audience", "finance"], database_url, tmp_path)
    assert others.exit_code == 0 and others.stdout == ""


async def test_documents_add_refuses_what_the_audiences_schema_does_not_validate(
    database_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "bidding.graphql"
    file.write_text(OPERATIONS, encoding="utf-8")
    # finance may not read grades: its schema has no Subject.grade.
    refused = await _invoke(["documents", "add", str(file), "--audience", "finance"], database_url, tmp_path)
    assert refused.exit_code == 2
    assert "refused: bidding.graphql does not validate against the audience's schema" in refused.output
    broken = tmp_path / "broken.graphql"
    broken.write_text("query {", encoding="utf-8")
    unparsed = await _invoke(["documents", "add", str(broken), "--audience", "finance"], database_url, tmp_path)
    assert unparsed.exit_code == 2 and "is not a GraphQL document" in unparsed.output
    unknown = await _invoke(["documents", "add", str(file), "--audience", "nobody"], database_url, tmp_path)
    assert unknown.exit_code == 2 and "unknown audience nobody" in unknown.output
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(trusted_documents))).scalar() == 0
    await engine.dispose()
