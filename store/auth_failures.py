"""Counters of failed authentication attempts, shared by every API process (the ``auth_failures`` table).

Each key (a client id, a user name, an address) is counted in fixed windows: the first failure opens a window
of ``window``; the failure that reaches the key's limit blocks the key until the window ends. One upsert per
key and failed attempt, atomic under concurrent attempts from several processes. Times are passed in, never
read from the database's clock, so that the caller decides what "now" is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.tables import auth_failures

__all__ = ["MAX_KEY_CHARS", "blocked_until", "count_keys", "record", "reset"]

MAX_KEY_CHARS = 256
"""Longer keys are cut: a client id or user name that long does not exist, and the row stays small."""

_RECORD = sa.text(
    """
    INSERT INTO auth_failures AS f (kind, key, failures, window_ends_at, blocked_until)
    VALUES (:kind, :key, 1, :window_ends_at, CASE WHEN :limit <= 1 THEN CAST(:window_ends_at AS timestamptz) END)
    ON CONFLICT (kind, key) DO UPDATE SET
        failures = CASE WHEN f.window_ends_at <= :now THEN 1 ELSE f.failures + 1 END,
        window_ends_at = CASE WHEN f.window_ends_at <= :now THEN excluded.window_ends_at ELSE f.window_ends_at END,
        blocked_until = CASE
            WHEN f.window_ends_at <= :now THEN excluded.blocked_until
            WHEN f.failures + 1 >= :limit THEN f.window_ends_at
        END
    """
)
_PURGE = sa.text("DELETE FROM auth_failures WHERE window_ends_at <= :now")


def _key(kind: str, key: str) -> dict[str, str]:
    return {"kind": kind, "key": key[:MAX_KEY_CHARS]}


async def blocked_until(conn: AsyncConnection, keys: Sequence[tuple[str, str]], *, now: datetime) -> datetime | None:
    """The latest end of a block among ``keys`` (``(kind, key)`` pairs) still in force at ``now``, or ``None``."""
    if not keys:
        return None
    pairs = [_key(kind, key) for kind, key in keys]
    condition = sa.or_(*((auth_failures.c.kind == p["kind"]) & (auth_failures.c.key == p["key"]) for p in pairs))
    query = sa.select(sa.func.max(auth_failures.c.blocked_until)).where(condition, auth_failures.c.blocked_until > now)
    until: datetime | None = (await conn.execute(query)).scalar_one()
    return until


async def record(
    conn: AsyncConnection, keys: Sequence[tuple[str, str, int]], *, now: datetime, window: timedelta
) -> None:
    """Count one failed attempt for each ``(kind, key, limit)``; counters whose window is over are dropped."""
    await conn.execute(_PURGE, {"now": now})
    if keys:
        await conn.execute(
            _RECORD,
            [
                {**_key(kind, key), "limit": limit, "now": now, "window_ends_at": now + window}
                # In one order in every transaction, so that two attempts counting the same keys never deadlock.
                for kind, key, limit in sorted(keys)
            ],
        )


async def reset(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> None:
    """Forget the failures of ``keys`` (after a successful attempt)."""
    for kind, key in keys:
        p = _key(kind, key)
        await conn.execute(
            sa.delete(auth_failures).where(auth_failures.c.kind == p["kind"], auth_failures.c.key == p["key"])
        )


async def count_keys(conn: AsyncConnection) -> int:
    """How many keys have a counter (for tests and diagnostics)."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(auth_failures))).scalar_one())
