"""store.read_pool: leases of real PostgreSQL connections, kept after a server error, dropped after anything else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from store.db import asyncpg_connect_kwargs
from store.read_pool import PoolClosed, ReadPool


@pytest.fixture
async def connect(server_url: str) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    opened: list[Any] = []

    async def open_one() -> Any:
        conn = await asyncpg.connect(**asyncpg_connect_kwargs(server_url))
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.terminate()


async def test_a_returned_connection_is_handed_out_again(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=4)
    async with pool.acquire() as first:
        assert await first.fetchval("SELECT 1") == 1
    async with pool.acquire() as second:
        assert second is first
    assert (pool.size, pool.idle) == (1, 1)
    await pool.close()


async def test_no_more_than_max_size_connections_and_a_waiter_gets_the_next_one_returned(
    connect: Callable[[], Awaitable[Any]],
) -> None:
    pool = ReadPool(connect, max_size=2)
    a = pool.acquire()
    b = pool.acquire()
    first, second = await a.__aenter__(), await b.__aenter__()
    waiting = asyncio.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0)
    assert not waiting.done() and pool.size == 2
    await b.__aexit__(None, None, None)
    assert await waiting is second
    await a.__aexit__(None, None, None)
    assert pool.size == 2 and pool.idle == 1
    assert first is not second
    second.terminate()
    await pool.close()


async def test_an_error_the_server_reports_keeps_the_connection(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=1)
    with pytest.raises(asyncpg.DivisionByZeroError):
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1 / 0")
    async with pool.acquire() as again:
        assert again is conn
        assert await again.fetchval("SELECT 2") == 2
    await pool.close()


async def test_a_cancelled_statement_drops_its_connection(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=1)
    started = asyncio.Event()

    async def slow() -> None:
        async with pool.acquire() as conn:
            started.set()
            await conn.fetchval("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow())
    await started.wait()  # resumed once the task has sent its statement and waits for the answer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (pool.size, pool.idle) == (0, 0)
    async with pool.acquire() as fresh:
        assert await fresh.fetchval("SELECT 3") == 3
    await pool.close()


async def test_a_connection_the_server_ended_is_not_handed_out(
    connect: Callable[[], Awaitable[Any]], server_url: str
) -> None:
    pool = ReadPool(connect, max_size=2)
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()
    ended = asyncio.Event()
    conn.add_termination_listener(lambda _conn: ended.set())
    admin = await asyncpg.connect(**asyncpg_connect_kwargs(server_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    async with asyncio.timeout(10):
        await ended.wait()
    async with pool.acquire() as other:
        assert other is not conn
        assert await other.fetchval("SELECT 4") == 4
    assert pool.size == 1
    await pool.close()


async def test_a_statement_on_a_lost_connection_drops_it(
    connect: Callable[[], Awaitable[Any]], server_url: str
) -> None:
    pool = ReadPool(connect, max_size=1)
    lost = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, ConnectionError)
    with pytest.raises(lost):
        async with pool.acquire() as conn:
            admin = await asyncpg.connect(**asyncpg_connect_kwargs(server_url))
            try:
                await admin.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
            finally:
                await admin.close()
            await conn.fetchval("SELECT 5")
    async with pool.acquire() as fresh:
        assert fresh is not conn
        assert await fresh.fetchval("SELECT 5") == 5
    assert pool.size == 1
    await pool.close()


async def test_a_waiter_cancelled_loses_no_connection(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=1)
    lease = pool.acquire()
    held = await lease.__aenter__()
    waiter = asyncio.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0)
    # Returned and cancelled in the same turn of the loop: the waiter was handed the connection but never ran.
    await lease.__aexit__(None, None, None)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (pool.size, pool.idle) == (1, 1)
    async with pool.acquire() as again:
        assert again is held
    await pool.close()


async def test_a_failed_connect_frees_its_place(connect: Callable[[], Awaitable[Any]]) -> None:
    attempts = 0

    async def flaky() -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("connection refused")
        return await connect()

    pool = ReadPool(flaky, max_size=1)
    with pytest.raises(OSError, match="refused"):
        async with pool.acquire():
            pass
    assert pool.size == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT 6") == 6
    await pool.close()


async def test_a_closed_pool_refuses_leases_and_closes_what_comes_back(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=2)
    first, second = pool.acquire(), pool.acquire()
    kept = await first.__aenter__()
    leased = await second.__aenter__()
    await first.__aexit__(None, None, None)
    assert pool.idle == 1
    other = pool.acquire()
    assert await other.__aenter__() is kept  # both places taken again: the next caller waits
    waiter = asyncio.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0)
    await other.__aexit__(None, None, None)
    assert await waiter is kept
    late = asyncio.create_task(pool.acquire().__aenter__())
    await asyncio.sleep(0)
    await pool.close()
    with pytest.raises(PoolClosed):
        await late
    with pytest.raises(PoolClosed):
        async with pool.acquire():
            pass
    await second.__aexit__(None, None, None)
    assert leased.is_closed() and pool.size == 1
    kept.terminate()


async def test_closing_closes_the_idle_connections(connect: Callable[[], Awaitable[Any]]) -> None:
    pool = ReadPool(connect, max_size=2)
    async with pool.acquire() as idle:
        pass
    await pool.close()
    assert idle.is_closed() and pool.size == 0
