"""The outbox repository: what an event names (SH art. 7), pending events in order, delivery bookkeeping, export,
the relay lock and the horizon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store import migrations, outbox
from store.db import create_engine
from store.pii import PiiCipher
from store.tables import outbox as outbox_table
from tests import factories
from tests.conftest import TEST_PII_KEY, leaked_id_numbers

PII = PiiCipher(TEST_PII_KEY)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=3, max_overflow=0)
    yield engine
    await engine.dispose()


async def _records(engine: AsyncEngine, count: int) -> list[int]:
    """``count`` records of one organization, ids ascending."""
    org = await factories.organization(engine)
    return [await factories.record(engine, org["id"]) for _ in range(count)]


async def _insert(engine: AsyncEngine, count: int, first: int = 1) -> list[int]:
    """Events for ``count`` new records (aggregate ids from ``first`` when the database is fresh): outbox ids."""
    records = await _records(engine, count)
    assert records[0] == first
    async with engine.begin() as conn:
        await outbox.record_events(conn, [("record.created", n, {"record_id": n, "status": "ACTIVE"}) for n in records])
        rows = await conn.execute(
            sa.select(outbox_table.c.id).where(outbox_table.c.aggregate_id >= first).order_by(outbox_table.c.id)
        )
        return list(rows.scalars())


async def test_pending_lists_unpushed_events_in_outbox_order_with_limit_and_horizon(engine: AsyncEngine) -> None:
    ids = await _insert(engine, 5)
    async with engine.begin() as conn:
        first = await outbox.pending(conn, 3, pii=PII)
        assert [e.id for e in first] == ids[:3]
        assert [e.aggregate_id for e in first] == [1, 2, 3]
        assert await outbox.mark_pushed(conn, [ids[0], ids[1]]) == 2
        assert [e.id for e in await outbox.pending(conn, 10, pii=PII)] == ids[2:]
        assert [e.id for e in await outbox.pending(conn, 10, up_to=ids[3], pii=PII)] == ids[2:4]
        event = first[0]
    assert event.topic == "record.created"
    assert {k: event.payload[k] for k in ("record_id", "status")} == {"record_id": 1, "status": "ACTIVE"}
    assert event.payload["record"]["id"] == 1 and event.payload["subject"]["kind"] == "ORGANIZATION"
    assert event.pushed_at is None and event.attempts == 0 and event.last_error is None
    body = event.body()
    assert body == {
        "event_id": str(event.event_id),
        "topic": "record.created",
        "aggregate_id": 1,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }
    assert event.created_at.tzinfo is not None


async def test_mark_pushed_counts_the_attempt_and_marks_only_once(engine: AsyncEngine) -> None:
    ids = await _insert(engine, 2)
    async with engine.begin() as conn:
        assert await outbox.mark_pushed(conn, []) == 0
        assert await outbox.mark_pushed(conn, [ids[0]]) == 1
    async with engine.begin() as conn:
        assert await outbox.mark_pushed(conn, [ids[0]]) == 0  # already pushed: pushed_at is not moved
        rows = (
            await conn.execute(sa.select(outbox_table.c.pushed_at, outbox_table.c.attempts).order_by(outbox_table.c.id))
        ).all()
        assert await outbox.counts(conn) == (1, 1)
    assert rows[0].pushed_at is not None and rows[0].attempts == 1
    assert rows[1].pushed_at is None and rows[1].attempts == 0


async def test_mark_failed_counts_attempts_and_keeps_the_last_error(engine: AsyncEngine) -> None:
    ids = await _insert(engine, 1)
    async with engine.begin() as conn:
        await outbox.mark_failed(conn, ids[0], "HTTP 500 Internal Server Error")
        await outbox.mark_failed(conn, ids[0], "timeout " + "x" * 5000)
        (event,) = await outbox.pending(conn, 1, pii=PII)
    assert event.attempts == 2
    assert event.last_error is not None
    assert event.last_error.startswith("timeout ") and len(event.last_error) == outbox.LAST_ERROR_MAX_CHARS
    async with engine.begin() as conn:
        await outbox.mark_pushed(conn, ids)
        await outbox.mark_failed(conn, ids[0], "late failure")  # a pushed event is left alone
        row = (await conn.execute(sa.select(outbox_table.c.attempts, outbox_table.c.last_error))).one()
    assert row.attempts == 3 and row.last_error is not None and row.last_error.startswith("timeout ")


async def test_export_streams_every_event_or_the_pending_ones_in_order(engine: AsyncEngine) -> None:
    ids = await _insert(engine, 4)
    async with engine.begin() as conn:
        await outbox.mark_pushed(conn, [ids[1]])
    async with engine.connect() as conn:
        everything = [e async for e in outbox.export(conn, pii=PII, batch=2)]
        pending_only = [e async for e in outbox.export(conn, pending_only=True, pii=PII)]
    assert [e.id for e in everything] == ids
    assert [e.id for e in pending_only] == [ids[0], ids[2], ids[3]]
    line = everything[1].export_line()
    assert line["id"] == ids[1] and line["pushed_at"] is not None and line["attempts"] == 1
    assert {k: line[k] for k in everything[1].body()} == everything[1].body()


async def test_relay_lock_is_held_by_one_session_and_names_its_holder(engine: AsyncEngine) -> None:
    async with engine.connect() as first, engine.connect() as second:
        assert await outbox.try_lock_relay(first)
        await first.commit()  # a session lock: it outlives the transaction
        holder_pid = (await first.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one()
        await first.commit()
        assert not await outbox.try_lock_relay(second)
        holder = await outbox.relay_lock_holder(second)
        assert holder is not None and holder.pid == holder_pid
        assert holder.application_name == "hrss-credit"
        assert await outbox.unlock_relay(first)
        await first.commit()
        assert await outbox.relay_lock_holder(second) is None
        assert await outbox.try_lock_relay(second)
        assert not await outbox.unlock_relay(first)  # first no longer holds it
        assert await outbox.unlock_relay(second)
        await second.commit()


async def test_horizon_names_the_open_transactions_writing_to_the_outbox(engine: AsyncEngine) -> None:
    committed = await _insert(engine, 2)
    assert await _records(engine, 7) == list(range(3, 10))
    async with engine.connect() as relay:
        horizon = await outbox.delivery_horizon(relay)
        await relay.commit()
        assert horizon == outbox.Horizon(max_id=committed[-1], writers=())
        async with engine.connect() as writer:
            await writer.begin()
            await outbox.record_events(writer, [("record.revoked", 9, {"record_id": 9})])
            # A later event commits while the earlier one is still open: its id is above the open one's.
            later = await _insert(engine, 1, first=10)
            horizon = await outbox.delivery_horizon(relay)
            await relay.commit()
            assert horizon.max_id == later[0]
            assert len(horizon.writers) == 1
            assert await outbox.writers_running(relay, horizon.writers) == 1
            await relay.commit()
            await writer.commit()
        assert await outbox.writers_running(relay, horizon.writers) == 0
        assert await outbox.writers_running(relay, []) == 0
        # Now every id up to the horizon is final, the one that committed late included.
        assert [e.aggregate_id for e in await outbox.pending(relay, 10, up_to=horizon.max_id, pii=PII)] == [1, 2, 9, 10]


async def test_sh_art_7_an_event_names_its_subject_by_uscc_or_id_number_and_its_decision(engine: AsyncEngine) -> None:
    """The writer's payload is kept; the subject and the record's decision are added in the same statement, and
    an individual's ID number only when the event is read: the stored payload holds no ID number in clear."""
    org = await factories.organization(engine, "上海甲有限公司")
    person = await factories.individual(engine, "王五")
    org_record = await factories.record(engine, org["id"], source_unit="上海市静安区人力资源和社会保障局")
    person_record = await factories.record(engine, person["id"], decision_number="沪人社监罚〔2026〕900号")
    async with engine.begin() as conn:
        await outbox.record_events(
            conn,
            [
                ("record.revoked", org_record, {"record_id": org_record, "subject_id": org["id"], "reason": "撤销"}),
                ("record.revoked", person_record, {"record_id": person_record, "subject": "the writer's, replaced"}),
            ],
        )
        first, second = await outbox.pending(conn, 10, pii=PII)
        stored = list((await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars())
    assert first.payload == {
        "record_id": org_record,
        "subject_id": org["id"],
        "reason": "撤销",
        "subject": {"id": org["id"], "kind": "ORGANIZATION", "name": "上海甲有限公司", "uscc": org["uscc"]},
        "record": {
            "id": org_record,
            "version": 1,
            "type": "ADMINISTRATIVE_PENALTY",
            "decision_number": first.payload["record"]["decision_number"],
            "source_unit": "上海市静安区人力资源和社会保障局",
            "decided_on": "2026-03-02",
        },
    }
    assert second.payload["subject"] == {
        "id": person["id"],
        "kind": "INDIVIDUAL",
        "name": "王五",
        "id_number": person["id_number"],
    }
    assert second.payload["record"]["decision_number"] == "沪人社监罚〔2026〕900号"
    assert second.payload["record"]["source_unit"] == "上海市人力资源和社会保障局执法总队"
    assert stored[1]["subject"] == {"id": person["id"], "kind": "INDIVIDUAL", "name": "王五"}
    assert leaked_id_numbers(str(stored)) == []


async def test_sh_art_7_an_event_that_cannot_name_its_record_is_not_written(engine: AsyncEngine) -> None:
    org = await factories.organization(engine)
    record_id = await factories.record(engine, org["id"])
    with pytest.raises(outbox.EventWithoutRecord, match="do not exist"):
        async with engine.begin() as conn:
            await outbox.record_events(
                conn,
                [
                    ("record.revoked", record_id, {"record_id": record_id}),
                    ("record.revoked", 999_999, {"record_id": 999_999}),
                ],
            )
    with pytest.raises(ValueError, match="names its record_id"):
        async with engine.begin() as conn:
            await outbox.record_events(conn, [("objection.decided", 1, {"objection_id": 1})])
    async with engine.connect() as conn:
        assert await outbox.counts(conn) == (0, 0)  # the whole transaction went back, the good event with it


async def test_an_individual_the_configured_keys_cannot_decrypt_stops_the_read(engine: AsyncEngine) -> None:
    person = await factories.individual(engine)
    record_id = await factories.record(engine, person["id"])
    async with engine.begin() as conn:
        await outbox.record_events(conn, [("record.revoked", record_id, {"record_id": record_id})])
    async with engine.connect() as conn:
        with pytest.raises(outbox.UnresolvedSubject, match=f"individual subject {person['id']}") as refused:
            await outbox.pending(conn, 10, pii=PiiCipher("another-pii-key-0123456789abcdef0123456789"))
        assert person["id_number"] not in str(refused.value)
        # A key being rotated out still reads it.
        rotated = PiiCipher("another-pii-key-0123456789abcdef0123456789", [TEST_PII_KEY])
        (event,) = await outbox.pending(conn, 10, pii=rotated)
    assert event.payload["subject"]["id_number"] == person["id_number"]


async def test_migration_0009_fills_in_the_events_written_before_it(database_url: str, engine: AsyncEngine) -> None:
    """Events written under 0008 get their subject and record from the tables (an individual's ID number is
    still added when read); a downgrade takes both away again."""
    org = await factories.organization(engine, "上海乙有限公司")
    person = await factories.individual(engine, "赵六")
    org_record = await factories.record(engine, org["id"])
    person_record = await factories.record(engine, person["id"])
    await asyncio.to_thread(migrations.downgrade, database_url, "0008")
    async with engine.begin() as conn:
        await conn.execute(  # as store.imports writes it: SQL NULL, not JSON null
            outbox_table.insert().values(topic="record.created", aggregate_id=org_record, payload=sa.null())
        )
        await conn.execute(
            outbox_table.insert(),
            [
                {"topic": "record.revoked", "aggregate_id": org_record, "payload": {"record_id": org_record}},
                {"topic": "record.revoked", "aggregate_id": person_record, "payload": {"record_id": person_record}},
            ],
        )
    await asyncio.to_thread(migrations.upgrade, database_url)
    async with engine.connect() as conn:
        created, org_revoked, person_revoked = await outbox.pending(conn, 10, pii=PII)
        stored = list((await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars())
    assert created.payload["subject"] == org_revoked.payload["subject"]
    assert org_revoked.payload["subject"] == {
        "id": org["id"],
        "kind": "ORGANIZATION",
        "name": "上海乙有限公司",
        "uscc": org["uscc"],
    }
    assert org_revoked.payload["record"]["id"] == created.payload["record"]["id"] == org_record
    assert person_revoked.payload["subject"]["id_number"] == person["id_number"]
    assert person_revoked.payload["record"]["decision_number"] and stored[0] is None

    await asyncio.to_thread(migrations.downgrade, database_url, "0008")
    async with engine.connect() as conn:
        stored = list((await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))).scalars())
    assert stored == [None, {"record_id": org_record}, {"record_id": person_record}]
