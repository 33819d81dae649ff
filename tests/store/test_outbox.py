"""The outbox repository: pending events in order, delivery bookkeeping, export, the relay lock and the horizon."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from store import outbox
from store.db import create_engine
from store.tables import outbox as outbox_table


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=3, max_overflow=0)
    yield engine
    await engine.dispose()


async def _insert(engine: AsyncEngine, count: int, first: int = 1) -> list[int]:
    async with engine.begin() as conn:
        await outbox.record_events(
            conn, [("record.created", n, {"record_id": n, "status": "ACTIVE"}) for n in range(first, first + count)]
        )
        rows = await conn.execute(
            sa.select(outbox_table.c.id).where(outbox_table.c.aggregate_id >= first).order_by(outbox_table.c.id)
        )
        return list(rows.scalars())


async def test_pending_lists_unpushed_events_in_outbox_order_with_limit_and_horizon(engine: AsyncEngine) -> None:
    ids = await _insert(engine, 5)
    async with engine.begin() as conn:
        first = await outbox.pending(conn, 3)
        assert [e.id for e in first] == ids[:3]
        assert [e.aggregate_id for e in first] == [1, 2, 3]
        assert await outbox.mark_pushed(conn, [ids[0], ids[1]]) == 2
        assert [e.id for e in await outbox.pending(conn, 10)] == ids[2:]
        assert [e.id for e in await outbox.pending(conn, 10, up_to=ids[3])] == ids[2:4]
        event = first[0]
    assert event.topic == "record.created"
    assert event.payload == {"record_id": 1, "status": "ACTIVE"}
    assert event.pushed_at is None and event.attempts == 0 and event.last_error is None
    body = event.body()
    assert body == {
        "event_id": str(event.event_id),
        "topic": "record.created",
        "aggregate_id": 1,
        "payload": {"record_id": 1, "status": "ACTIVE"},
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
        (event,) = await outbox.pending(conn, 1)
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
        everything = [e async for e in outbox.export(conn, batch=2)]
        pending_only = [e async for e in outbox.export(conn, pending_only=True)]
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
        assert [e.aggregate_id for e in await outbox.pending(relay, 10, up_to=horizon.max_id)] == [1, 2, 9, 10]
