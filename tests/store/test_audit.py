"""The audit log's store: appends that wait for no other writer, group commit, one sealer chaining in id order past
transactions that commit late, signed checkpoints that catch a chain rewritten by its owner, and the app's role
that can neither disable the triggers nor change an entry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from auth.keys import SigningKeys
from store import audit
from store.db import create_engine

ISSUER = "http://127.0.0.1:8000"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=4, max_overflow=4)
    yield engine
    await engine.dispose()


def entry(actor: str = "procurement", **fields: Any) -> audit.AuditEntry:
    return audit.AuditEntry(actor=actor, operation="Check", operation_type="query", outcome="ok", **fields)


async def until(condition: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Wait for ``condition`` to hold, polling, and fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def rows(engine: AsyncEngine) -> list[sa.Row[Any]]:
    async with engine.connect() as conn:
        return list(await conn.execute(sa.text("SELECT id, actor, prev_hash, hash FROM audit_log ORDER BY id")))


async def seal_all(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await audit.seal(conn)


async def verify(engine: AsyncEngine, checkpoints: list[audit.Checkpoint] | None = None) -> audit.ChainReport:
    async with engine.connect() as conn:
        return await audit.verify(conn, checkpoints or [])


async def test_an_append_waits_for_no_other_writer(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await audit.append(first, entry("first"))
        # The first transaction is still open: a second writer appends and commits without waiting for it.
        await second.begin()
        await asyncio.wait_for(audit.append(second, entry("second")), 5)
        await asyncio.wait_for(second.commit(), 5)
        await first.commit()
    assert [(r.actor, r.hash) for r in await rows(engine)] == [("first", None), ("second", None)]


async def test_entries_arrive_unsealed_and_the_sealer_chains_them_in_id_order(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for n in range(3):
            await audit.append(conn, entry(f"client-{n}", subject_ids=[n, n], fields_returned=["B", "A"]))
    assert (await verify(engine)).unsealed == 3
    assert await seal_all(engine) == 3
    chained = await rows(engine)
    assert chained[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in chained[1:]] == [r.hash for r in chained[:-1]]
    report = await verify(engine)
    assert (report.entries, report.first_broken_id, report.unsealed) == (3, None, 0)
    assert report.head == audit.Head(chained[-1].id, chained[-1].hash)
    assert await seal_all(engine) == 0


async def test_an_entry_can_only_be_sealed_once_and_never_changed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await audit.append(conn, entry())
    for statement in (
        "UPDATE audit_log SET actor = 'someone else'",
        "UPDATE audit_log SET prev_hash = '\\x00', hash = '\\x00', purpose = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (actor, operation, operation_type, outcome, prev_hash, hash)"
        " VALUES ('x', 'q', 'query', 'ok', '\\x00', '\\x00')",
        "INSERT INTO audit_log (id, actor, operation, operation_type, outcome) VALUES (0, 'x', 'q', 'query', 'ok')",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(sa.text("SELECT nextval('audit_log_id_seq')"))  # so currval is defined
                await conn.execute(sa.text(statement))
    await seal_all(engine)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE audit_log SET prev_hash = '\\x00', hash = '\\x00'"))
    assert (await verify(engine)).first_broken_id is None


async def test_the_sealer_waits_for_a_transaction_that_holds_a_lower_id(engine: AsyncEngine, database_url: str) -> None:
    polls = 0

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal polls
        polls += "virtualxid" in statement

    async with engine.connect() as late:
        await late.begin()
        await audit.append(late, entry("late"))  # draws the lower id, commits last
        async with engine.begin() as conn:
            await audit.append(conn, entry("early"))
        sealer_engine = create_engine(database_url, pool_size=1)
        sa.event.listen(sealer_engine.sync_engine, "before_cursor_execute", count)
        try:
            async with sealer_engine.connect() as conn:
                sealing = asyncio.create_task(audit.seal(conn))

                async def polled_twice() -> bool:
                    return polls >= 2

                await until(polled_twice)
                # Sealing "early" now would chain it before an id that can still commit.
                assert not sealing.done()
                assert [(r.actor, r.hash) for r in await rows(engine)] == [("early", None)]
                await late.commit()
                assert await asyncio.wait_for(sealing, 10) == 2
        finally:
            await sealer_engine.dispose()
    assert [r.actor for r in await rows(engine)] == ["late", "early"]
    assert (await verify(engine)).first_broken_id is None


async def test_racing_sealers_never_fork_the_chain(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for n in range(200):
            await audit.append(conn, entry(f"c{n}"))

    async def seal(conn: AsyncConnection) -> int:
        async with conn.begin():
            return await audit.seal_up_to(conn, 1_000_000, batch=1000)

    async with engine.connect() as one, engine.connect() as two:
        outcomes = await asyncio.gather(seal(one), seal(two), return_exceptions=True)
    # They take turns: the second finds nothing left to seal.
    assert sorted(outcomes) == [0, 200]  # type: ignore[type-var]
    report = await verify(engine)
    assert (report.entries, report.first_broken_id) == (200, None)


async def test_one_session_holds_the_sealer_lock(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        assert await audit.try_lock_sealer(first)
        await first.commit()  # a session lock: it outlives the transaction
        assert not await audit.try_lock_sealer(second)
        pid = (await first.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one()
        assert (await audit.sealer_holder(second) or "").startswith(f"PostgreSQL backend {pid} (hrss-credit)")
        assert await audit.unlock_sealer(first)
        assert await audit.try_lock_sealer(second)
        assert await audit.unlock_sealer(second)
        await first.commit()
        await second.commit()


async def test_the_group_writer_commits_concurrent_entries_together(engine: AsyncEngine) -> None:
    inserts = 0

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal inserts
        inserts += statement.lstrip().startswith("INSERT INTO audit_log")

    writer = audit.AuditWriter(engine, max_in_flight=2)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await asyncio.gather(*(writer.append(entry(f"reader-{n}")) for n in range(50)))
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
    # The first two went out at once, the 48 that came meanwhile together.
    assert inserts == 3
    assert sorted(r.actor for r in await rows(engine)) == sorted(f"reader-{n}" for n in range(50))
    await writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        await writer.append(entry())


async def test_an_entry_is_durable_when_append_returns(engine: AsyncEngine) -> None:
    woken = 0

    def wake() -> None:
        nonlocal woken
        woken += 1

    writer = audit.AuditWriter(engine, on_durable=wake)
    for n in range(3):
        await writer.append(entry(f"reader-{n}"))
        # Committed: another session sees it at once.
        assert [r.actor for r in await rows(engine)][-1] == f"reader-{n}"
    assert woken == 3
    await writer.close()


async def test_the_group_writer_comes_back_after_the_server_dropped_its_connection(
    engine: AsyncEngine, database_url: str
) -> None:
    own = create_engine(database_url, pool_size=1, max_overflow=0, application_name="audit-writer-under-test")
    writer = audit.AuditWriter(own, max_in_flight=1)
    try:
        await writer.append(entry("before"))
        async with engine.begin() as conn:
            dropped = await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'audit-writer-under-test'"
                )
            )
            assert dropped.scalars().all() == [True]
        await writer.append(entry("after"))
    finally:
        await writer.close()
        await own.dispose()
    assert [r.actor for r in await rows(engine)] == ["before", "after"]


async def test_an_entry_the_database_refuses_fails_its_own_caller_only(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit storage refused the row'; END $$"
            )
        )
        await conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW "
                "WHEN (NEW.purpose = 'refused') EXECUTE FUNCTION refuse_audit()"
            )
        )
    writer = audit.AuditWriter(engine, max_in_flight=1)
    outcomes = await asyncio.gather(
        *(writer.append(entry(f"r{n}", purpose="refused" if n == 5 else None)) for n in range(10)),
        return_exceptions=True,
    )
    assert [n for n, o in enumerate(outcomes) if o is not None] == [5]
    assert "refused the row" in str(outcomes[5])
    assert sorted(r.actor for r in await rows(engine)) == sorted(f"r{n}" for n in range(10) if n != 5)
    await writer.close()


async def test_an_entry_in_a_rolled_back_transaction_is_gone_with_it(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.begin()
        await audit.append(conn, entry())
        await conn.rollback()
    async with engine.begin() as conn:
        await audit.append(conn, entry("kept"))
    assert [r.actor for r in await rows(engine)] == ["kept"]
    await seal_all(engine)
    assert (await verify(engine)).first_broken_id is None  # the rolled-back id is a gap, not a break


async def test_the_sealer_task_seals_and_signs_checkpoints_one_process_at_a_time(
    engine: AsyncEngine, database_url: str
) -> None:
    keys = SigningKeys.generate()
    engines = [create_engine(database_url, pool_size=1, max_overflow=0) for _ in range(2)]
    sealers = [
        audit.Sealer(e, signer=keys, issuer=ISSUER, interval=0.02, standby=0.05, checkpoint_every=0.0) for e in engines
    ]

    def wake() -> None:
        for s in sealers:
            s.wake()

    writer = audit.AuditWriter(engine, on_durable=wake)
    for s in sealers:
        s.start()
    try:

        async def one_sealing() -> bool:
            return sum(s.sealing for s in sealers) == 1

        await until(one_sealing)
        await asyncio.gather(*(writer.append(entry(f"r{n}")) for n in range(20)))
        async with engine.connect() as conn:
            assert await audit.wait_until_sealed(conn, within=10)

        async def checkpoint_of_head() -> bool:
            async with engine.connect() as conn:
                at, last = await audit.head(conn), await audit.latest_checkpoint(conn)
            return at is not None and last is not None and last[0] == at.entry_id

        await until(checkpoint_of_head)
        assert sum(s.sealing for s in sealers) == 1
        # The holder goes away: the other one takes over.
        holder = next(s for s in sealers if s.sealing)
        await holder.stop()
        other = next(s for s in sealers if s is not holder)

        async def taken_over() -> bool:
            return other.sealing

        await until(taken_over)
        await writer.append(entry("after"))
        async with engine.connect() as conn:
            assert await audit.wait_until_sealed(conn, within=10)
            tokens = await audit.stored_checkpoint_tokens(conn)
    finally:
        await writer.close()
        for s in sealers:
            await s.stop()
        for e in engines:
            await e.dispose()
    kept = [audit.open_checkpoint(t, keys.public_jwks()) for t in tokens]
    report = await verify(engine, kept)
    assert report.intact and report.entries == 21 and report.checkpoints == len(kept) >= 1


async def test_a_chain_rewritten_by_its_owner_fails_against_the_kept_checkpoints(engine: AsyncEngine) -> None:
    keys = SigningKeys.generate()
    async with engine.begin() as conn:
        for n in range(5):
            await audit.append(conn, entry(f"client-{n}"))
    await seal_all(engine)
    async with engine.begin() as conn:
        signed = await audit.checkpoint(conn, keys, issuer=ISSUER)
    assert signed is not None
    # What the auditor keeps: the exported line, re-read and checked against the JWKS.
    kept = [audit.open_checkpoint(t, keys.public_jwks()) for t in audit.checkpoint_tokens(_line(signed))]
    assert (await verify(engine, kept)).intact
    second = (await rows(engine))[1].id
    async with engine.begin() as conn:
        # The owner bypasses every trigger, changes an entry, rebuilds a chain that verifies on its own and
        # removes the stored checkpoints.
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        await conn.execute(sa.text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        await conn.execute(sa.text("UPDATE audit_log SET actor = 'nobody' WHERE id = :id"), {"id": second})
        await conn.execute(sa.text("UPDATE audit_log SET prev_hash = NULL, hash = NULL"))
        await conn.execute(sa.text("DELETE FROM audit_checkpoints"))
        await conn.execute(sa.text("SELECT audit_log_seal(1000000, 1000)"))
        await conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        await conn.execute(sa.text("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER"))
    assert (await verify(engine)).intact  # nothing inside the database can tell
    report = await verify(engine, kept)
    assert not report.intact and report.first_broken_id is None
    assert report.checkpoint_failures == (
        audit.CheckpointFailure(signed.entry_id, "the entry's hash is not the one signed"),
    )
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        await conn.execute(sa.text("DELETE FROM audit_log WHERE id >= :id"), {"id": signed.entry_id})
    assert (await verify(engine, kept)).checkpoint_failures == (
        audit.CheckpointFailure(signed.entry_id, "the entry is missing"),
    )


def _line(checkpoint: audit.Checkpoint) -> str:
    import orjson

    return orjson.dumps(checkpoint.export_line()).decode() + "\n"


async def test_a_checkpoint_signed_by_another_key_or_altered_is_refused(engine: AsyncEngine) -> None:
    keys, other = SigningKeys.generate(), SigningKeys.generate()
    signed = audit.sign_checkpoint(audit.Head(7, bytes(range(32))), keys, issuer=ISSUER)
    read = audit.open_checkpoint(signed.jws, keys.public_jwks())
    assert (read.entry_id, read.entry_hash, read.kid, read.issuer) == (7, bytes(range(32)), keys.kid, ISSUER)
    with pytest.raises(audit.InvalidCheckpoint):
        audit.open_checkpoint(signed.jws, other.public_jwks())
    header, _, signature = signed.jws.split(".")
    forged = audit.sign_checkpoint(audit.Head(7, bytes(32)), keys, issuer=ISSUER).jws.split(".")[1]
    with pytest.raises(audit.InvalidCheckpoint):
        audit.open_checkpoint(f"{header}.{forged}.{signature}", keys.public_jwks())
    with pytest.raises(audit.InvalidCheckpoint):
        audit.open_checkpoint("not a checkpoint", keys.public_jwks())


async def test_an_entry_left_out_of_the_chain_breaks_it(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for n in range(3):
            await audit.append(conn, entry(f"client-{n}"))
    await seal_all(engine)
    middle = (await rows(engine))[1].id
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(sa.text("UPDATE audit_log SET prev_hash = NULL, hash = NULL WHERE id = :id"), {"id": middle})
    assert (await verify(engine)).first_broken_id == middle
    # And the sealer refuses to chain around it.
    with pytest.raises(DBAPIError, match="unsealed below a sealed entry"):
        await seal_all(engine)


async def test_the_app_role_cannot_disable_the_triggers_nor_change_an_entry(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL ROLE hrss_app"))
        await audit.append(conn, entry("as the app"))
        assert await audit.seal_up_to(conn, 1_000_000) == 1
        signed = await audit.checkpoint(conn, SigningKeys.generate(), issuer=ISSUER)
        assert signed is not None
    refused = {
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only": "must be owner",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL": "must be owner",
        "DROP TRIGGER audit_log_append_only ON audit_log": "must be owner",
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER": "must be owner",
        "UPDATE audit_log SET actor = 'x'": "permission denied",
        "UPDATE audit_log SET prev_hash = NULL, hash = NULL": "permission denied",
        "DELETE FROM audit_log": "permission denied",
        "TRUNCATE audit_log": "permission denied",
        "UPDATE audit_checkpoints SET kid = 'x'": "permission denied",
        "DELETE FROM audit_checkpoints": "permission denied",
        "CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'": "permission denied",
    }
    for statement, reason in refused.items():
        with pytest.raises(DBAPIError, match=reason):
            async with engine.begin() as conn:
                await conn.execute(sa.text("SET LOCAL ROLE hrss_app"))
                await conn.execute(sa.text(statement))
    assert (await verify(engine)).intact


# The digest of migration 0001, before entries named a receipt: what every entry sealed then was hashed with.
_DIGEST_BEFORE_RECEIPTS = """
    SELECT sha256(prev_hash || convert_to(concat_ws(E'\\x1f',
      id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      quote_nullable(request_id), quote_literal(actor), quote_nullable(audience),
      quote_literal(operation), quote_literal(operation_type),
      subject_ids::text, fields_returned::text, fields_refused::text,
      quote_nullable(purpose), quote_literal(outcome)), 'UTF8')) = hash
    FROM audit_log ORDER BY id
"""


async def test_the_chain_covers_an_entrys_receipt_id(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await audit.append(conn, entry("without a receipt"))
        await audit.append(conn, entry("with a receipt", receipt_id="0b9f6c1e-receipt"))
        await audit.append(conn, entry("without a receipt again"))
    await seal_all(engine)
    assert (await verify(engine)).intact
    async with engine.connect() as conn:
        # An entry without a receipt keeps the hash it had before entries could name one.
        assert list((await conn.execute(sa.text(_DIGEST_BEFORE_RECEIPTS))).scalars()) == [True, False, True]
    with_receipt = (await rows(engine))[1].id
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE audit_log SET receipt_id = 'forged'"))
    async with engine.begin() as conn:
        # The owner bypasses the trigger and swaps the receipt id: the chain gives it away.
        await conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        await conn.execute(
            sa.text("UPDATE audit_log SET receipt_id = 'another-receipt' WHERE id = :id"), {"id": with_receipt}
        )
    assert (await verify(engine)).first_broken_id == with_receipt


async def test_the_sealer_cannot_change_an_entrys_receipt_id(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await audit.append(conn, entry(receipt_id="r-1"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE audit_log SET prev_hash = '\\x00', hash = '\\x00', receipt_id = 'r-2'"))
    assert await seal_all(engine) == 1 and (await verify(engine)).intact
