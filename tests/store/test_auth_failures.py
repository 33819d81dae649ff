"""The failure counters behind the authorization server's throttle (store.auth_failures), with explicit times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from store import auth_failures
from store.db import create_engine

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
CLIENT = ("client", "procurement")
ADDRESS = ("addr", "10.0.0.7")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def _fail(engine: AsyncEngine, key: tuple[str, str], limit: int, now: datetime) -> None:
    async with engine.begin() as conn:
        await auth_failures.record(conn, [(*key, limit)], now=now, window=WINDOW)


async def _blocked_until(engine: AsyncEngine, *keys: tuple[str, str], now: datetime) -> datetime | None:
    async with engine.connect() as conn:
        return await auth_failures.blocked_until(conn, list(keys), now=now)


async def test_a_key_is_blocked_for_the_rest_of_its_window(engine: AsyncEngine) -> None:
    for minute in range(3):
        await _fail(engine, CLIENT, 3, T0 + timedelta(minutes=minute))
    assert await _blocked_until(engine, CLIENT, ADDRESS, now=T0 + timedelta(minutes=2)) == T0 + WINDOW
    assert await _blocked_until(engine, ADDRESS, now=T0 + timedelta(minutes=2)) is None
    # The block ends with the window; the next failure starts a new window with a count of one.
    assert await _blocked_until(engine, CLIENT, now=T0 + WINDOW) is None
    await _fail(engine, CLIENT, 3, T0 + WINDOW)
    assert await _blocked_until(engine, CLIENT, now=T0 + WINDOW) is None


async def test_failures_below_the_limit_never_block(engine: AsyncEngine) -> None:
    for second in range(4):
        await _fail(engine, ADDRESS, 5, T0 + timedelta(seconds=second))
    assert await _blocked_until(engine, ADDRESS, now=T0 + timedelta(seconds=4)) is None


async def test_reset_forgets_a_key(engine: AsyncEngine) -> None:
    for _ in range(2):
        await _fail(engine, CLIENT, 3, T0)
    async with engine.begin() as conn:
        await auth_failures.reset(conn, [CLIENT])
    for _ in range(2):
        await _fail(engine, CLIENT, 3, T0)
    assert await _blocked_until(engine, CLIENT, now=T0) is None


async def test_expired_counters_are_purged(engine: AsyncEngine) -> None:
    await _fail(engine, CLIENT, 3, T0)
    await _fail(engine, ADDRESS, 3, T0 + WINDOW + timedelta(seconds=1))
    async with engine.connect() as conn:
        assert await auth_failures.count_keys(conn) == 1
