"""The Alembic migrations: they build exactly the tables the code queries, run down and up again, and install
the triggers that keep records immutable and the audit log append-only and chained."""

from __future__ import annotations

import asyncio
from datetime import date

import orjson
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import DBAPIError, IntegrityError

from store import audit, migrations
from store.db import copy_rows, create_engine
from store.tables import credit_records, metadata, subjects
from tests import factories


async def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
    await engine.dispose()
    assert diff == []


async def test_migrated_columns_have_the_collations_of_the_table_definitions(database_url: str) -> None:
    """Alembic's comparison above does not look at collations: the identifier columns (migration 0007) are
    checked here, and no text column has a collation the definitions do not give."""
    declared = {
        (table.name, column.name): column.type.collation
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.String)
    }
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
            )
        )
        migrated = {(r.table_name, r.column_name): r.collation_name for r in rows}
    await engine.dispose()
    assert {key: migrated.get(key, "missing") for key in declared} == declared
    assert declared[("credit_records", "decision_number")] == declared[("subjects", "uscc")] == "C"


async def test_audit_subject_ids_are_compressed_with_lz4_where_the_server_has_it(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        methods = await conn.scalar(
            sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        )
        method = await conn.scalar(
            sa.text(
                "SELECT attcompression::text FROM pg_attribute"
                " WHERE attrelid = 'audit_log'::regclass AND attname = 'subject_ids'"
            )
        )
    await engine.dispose()
    # 'l' is lz4; '' the server's default (pglz), which a server built without lz4 keeps.
    assert method == ("l" if "lz4" in methods else "")


async def test_migrations_run_down_to_base_and_up_again(database_url: str) -> None:
    await asyncio.to_thread(migrations.downgrade, database_url, "base")
    engine = create_engine(database_url)
    assert await migrations.current_revision(engine) is None
    await asyncio.to_thread(migrations.upgrade, database_url)
    assert await migrations.current_revision(engine) == migrations.head_revision()
    await engine.dispose()


async def test_record_content_cannot_be_overwritten_or_deleted(database_url: str) -> None:
    engine = create_engine(database_url)
    org = await factories.organization(engine)
    record_id = await factories.record(engine, org["id"], decided_on=date(2026, 2, 3))
    for statement in (
        credit_records.update().where(credit_records.c.id == record_id).values(title="rewritten"),
        credit_records.update().where(credit_records.c.id == record_id).values(decided_on=date(2020, 1, 1)),
        credit_records.delete().where(credit_records.c.id == record_id),
        sa.text("TRUNCATE credit_records CASCADE"),
    ):
        with pytest.raises(DBAPIError, match=r"immutable|never deleted|append-only"):
            async with engine.begin() as conn:
                await conn.execute(statement)
    # A status change is how a record is revoked or corrected: it is allowed, the content stays.
    async with engine.begin() as conn:
        await conn.execute(
            credit_records.update().where(credit_records.c.id == record_id).values(status="REVOKED", status_reason="x")
        )
        row = (await conn.execute(sa.select(credit_records).where(credit_records.c.id == record_id))).one()
    assert row.status == "REVOKED" and row.decided_on == date(2026, 2, 3)
    await engine.dispose()


async def test_a_record_needs_an_existing_subject_and_subjects_are_never_deleted(database_url: str) -> None:
    """The set-based check that replaced the foreign key (migration 0006) refuses a statement with one record of
    an unknown subject, as a whole; a subject is never deleted, truncated or renumbered, so it cannot go away."""
    engine = create_engine(database_url)
    org = await factories.organization(engine)
    with pytest.raises(DBAPIError, match="subject 999999999 does not exist") as refused:
        await factories.record(engine, 999_999_999)
    assert getattr(refused.value.orig, "sqlstate", None) == "23503"
    good = await factories.record(engine, org["id"])
    async with engine.connect() as conn:
        row = dict((await conn.execute(sa.select(credit_records).where(credit_records.c.id == good))).one()._mapping)
    copies = [
        {k: v for k, v in row.items() if k not in ("id", "created_at")}
        | {"decision_number": f"批量{n}", "subject_id": s}
        for n, s in enumerate([org["id"], org["id"], 999_999_998])
    ]
    with pytest.raises(DBAPIError, match="subject 999999998 does not exist"):
        async with engine.begin() as conn:
            await conn.execute(credit_records.insert().values(copies))  # one statement, three rows
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(credit_records))).scalar_one() == 1
    for statement, reason in (
        (subjects.delete().where(subjects.c.id == org["id"]), "never deleted"),
        (sa.text("TRUNCATE subjects CASCADE"), "append-only"),
        (subjects.update().where(subjects.c.id == org["id"]).values(id=999_999_997), "keeps its id"),
    ):
        with pytest.raises(DBAPIError, match=reason):
            async with engine.begin() as conn:
                await conn.execute(statement)
    async with engine.begin() as conn:  # other columns change as before
        await conn.execute(subjects.update().where(subjects.c.id == org["id"]).values(name="改名后的公司"))
    await engine.dispose()


async def test_rows_written_by_copy_meet_the_same_checks_and_fail_like_a_statement(database_url: str) -> None:
    """Bulk writes go by COPY (store.db.copy_rows): the subject check and the unique keys hold for it as for an
    INSERT, the whole COPY is refused, and the failure is SQLAlchemy's IntegrityError carrying the SQLSTATE (the
    import retries a chunk on 23505 when a chunk written side by side got there first)."""
    engine = create_engine(database_url)
    org = await factories.organization(engine)
    good = await factories.record(engine, org["id"])
    async with engine.connect() as conn:
        row = dict((await conn.execute(sa.select(credit_records).where(credit_records.c.id == good))).one()._mapping)
    columns = [k for k in row if k not in ("id", "created_at")]

    def copy_of(number: str, subject_id: int) -> tuple[object, ...]:
        values = row | {"decision_number": number, "subject_id": subject_id}
        values["details"] = orjson.dumps(values["details"]).decode()  # the connection's jsonb codec takes text
        return tuple(values[c] for c in columns)

    for rows, sqlstate, message in (
        ([copy_of("批量1", org["id"]), copy_of("批量2", 999_999_996)], "23503", "subject 999999996 does not exist"),
        ([copy_of("批量3", org["id"]), copy_of(row["decision_number"], org["id"])], "23505", "uq_credit_records"),
    ):
        with pytest.raises(IntegrityError, match=message) as refused:
            async with engine.begin() as conn:
                await conn.execute(sa.text("SELECT 1"))  # the transaction begins with its first statement
                await copy_rows(conn, "credit_records", columns, rows)
        assert getattr(refused.value.orig, "sqlstate", None) == sqlstate
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT 1"))
        await copy_rows(conn, "credit_records", columns, [copy_of("批量4", org["id"])])
    async with engine.connect() as conn:
        numbers = (await conn.execute(sa.select(credit_records.c.decision_number))).scalars().all()
    assert sorted(numbers) == sorted([row["decision_number"], "批量4"])
    await engine.dispose()


async def test_audit_log_is_append_only_and_its_chain_verifies(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for i in range(3):
            await audit.append(
                conn,
                audit.AuditEntry(
                    actor=f"client-{i}", operation="q", operation_type="query", outcome="ok", subject_ids=[i]
                ),
            )
    async with engine.connect() as conn:
        assert await audit.seal(conn) == 3
        report = await audit.verify(conn)
    assert report.entries == 3 and report.first_broken_id is None
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(sa.text(statement))
    await engine.dispose()


async def test_audit_verify_reports_the_first_tampered_entry(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for i in range(4):
            await audit.append(
                conn, audit.AuditEntry(actor=f"c{i}", operation="q", operation_type="query", outcome="ok")
            )
        ids = [r[0] for r in await conn.execute(sa.text("SELECT id FROM audit_log ORDER BY id"))]
    async with engine.connect() as conn:
        await audit.seal(conn)
    async with engine.begin() as conn:
        # Only a superuser bypassing the trigger can do this; the chain still gives it away.
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE id = :id"), {"id": ids[2]})
    async with engine.connect() as conn:
        report = await audit.verify(conn)
    assert report.first_broken_id == ids[2]
    await engine.dispose()
