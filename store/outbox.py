"""The outbox: every change the city credit platform must receive, written in the transaction of the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import outbox


async def record_events(conn: AsyncConnection, events: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Append ``(topic, aggregate id, payload)`` events in one statement."""
    if events:
        await conn.execute(outbox.insert(), [{"topic": t, "aggregate_id": a, "payload": p} for t, a, p in events])
