"""The embedded PostgreSQL keeps its data across restarts and stops when its owner stops it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from store.embedded import EmbeddedPostgres
from tests.conftest import _asyncpg_dsn


async def _run(url: str, sql: str) -> object:
    conn = await asyncpg.connect(**_asyncpg_dsn(url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_embedded_postgres_reuses_its_data_across_restarts(tmp_path: Path) -> None:
    first = EmbeddedPostgres(tmp_path)
    url = first.start()
    asyncio.run(_run(url, "CREATE TABLE kept (v int)"))
    asyncio.run(_run(url, "INSERT INTO kept VALUES (42)"))
    first.stop()
    assert not (tmp_path / "pg" / "postmaster.pid").exists()

    second = EmbeddedPostgres(tmp_path)
    url_again = second.start()
    try:
        assert asyncio.run(_run(url_again, "SELECT v FROM kept")) == 42
        assert asyncio.run(_run(url_again, "SELECT current_database()")) == "hrss"
    finally:
        second.stop()
