"""A synthetic population for the benchmarks: N organizations with valid USCCs and a mix of records.

Loaded with multi-row inserts straight into the tables (the benchmark measures reads and the evaluation, not
the import path); every subject is graded afterwards by the evaluation being measured.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from domain.identifiers import make_uscc
from domain.taxonomy import CATEGORY_OF, TITLE_ZH, RecordType
from store import migrations
from store.db import create_engine, with_database
from store.records import content_digest
from store.tables import credit_records, subjects

TODAY = date(2026, 11, 21)
_MIX = [
    (RecordType.ADMINISTRATIVE_PENALTY, "GENERAL", 0.10),
    (RecordType.VIOLATION_CORRECTED, None, 0.08),
    (RecordType.WAGE_ARREARS_BLACKLIST, "SERIOUS", 0.01),
    (RecordType.HARMONIOUS_LABOR_RELATIONS, None, 0.05),
    (RecordType.ARBITRATION_LOST, None, 0.10),
    (RecordType.AWARD, None, 0.05),
]


@contextmanager
def bench_server() -> Iterator[str]:
    """BENCH_DATABASE_URL / DATABASE_URL when set (its maintenance database), else an embedded PostgreSQL."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield with_database(url, "postgres")
        return
    from pathlib import Path

    from store.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(Path(".data/bench"), database="postgres")
    try:
        yield with_database(embedded.start(), "postgres")
    finally:
        embedded.stop()


@contextmanager
def own_server(directory: Path, settings: Mapping[str, str]) -> Iterator[str]:
    """A PostgreSQL of the benchmark's own under ``directory`` (tests/pg_cluster.py), with ``settings`` in its
    postgresql.conf (shared_buffers sized to the register, say); its maintenance database's URL. Stopped and
    removed on exit."""
    from tests.pg_cluster import PgCluster

    cluster = PgCluster.init(directory, settings=settings)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.destroy()


async def _admin(server: str, sql: str) -> None:
    u = make_url(server)
    kwargs: dict[str, object] = {"user": u.username or "postgres", "database": "postgres"}
    if "host" in u.query:
        kwargs["host"] = u.query["host"]
    else:
        kwargs.update(host=u.host or "127.0.0.1", port=u.port or 5432)
    conn = await asyncpg.connect(**kwargs)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def fresh_database(server: str, name: str) -> str:
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    url = with_database(server, name)
    migrations.upgrade(url)
    return url


def usccs(n: int) -> list[str]:
    return [make_uscc("9", "1", "310104", f"B{i:07d}") for i in range(n)]


async def load(url: str, organizations: int, *, seed: int = 7) -> list[str]:
    """Insert the organizations and their records; return the USCCs."""
    rng = random.Random(seed)
    codes = usccs(organizations)
    engine = create_engine(url, pool_size=2, statement_timeout_ms=600_000)
    started = time.perf_counter()
    async with engine.begin() as conn:
        ids: list[int] = []
        for start in range(0, organizations, 5000):
            chunk = codes[start : start + 5000]
            rows = [
                {"kind": "ORGANIZATION", "name": f"基准企业{c[-8:]}", "uscc": c, "region_code": c[2:8]} for c in chunk
            ]
            ids += list(
                (
                    await conn.execute(subjects.insert().returning(subjects.c.id, sort_by_parameter_order=True), rows)
                ).scalars()
            )
        records = []
        n = 0
        for sid in ids:
            for type_, severity, share in _MIX:
                if rng.random() < share:
                    n += 1
                    decided = TODAY - timedelta(days=rng.randint(1, 2000))
                    content = {
                        "type": type_.value,
                        "category": CATEGORY_OF[type_].value,
                        "severity": severity,
                        "title": TITLE_ZH[type_],
                        "decision_number": f"基准〔{decided.year}〕{n}号",
                        "source_unit": "上海市人力资源和社会保障局执法总队",
                        "legal_basis": "《劳动保障监察条例》第二十六条",
                        "occurred_on": None,
                        "decided_on": decided,
                        "publicity_until": decided + timedelta(days=400) if severity else None,
                        "penalty_fulfilled": True if type_ is RecordType.ADMINISTRATIVE_PENALTY else None,
                        "corrected_on": decided + timedelta(days=20)
                        if type_ is RecordType.ADMINISTRATIVE_PENALTY
                        else None,
                        "details": {"labor_contract_attested": True}
                        if type_ is RecordType.HARMONIOUS_LABOR_RELATIONS
                        else {},
                    }
                    records.append(
                        {**content, "subject_id": sid, "content_digest": content_digest(content), "created_by": "bench"}
                    )
        for start in range(0, len(records), 5000):
            await conn.execute(credit_records.insert(), records[start : start + 5000])
        await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    print(f"loaded {organizations} organizations and {len(records)} records in {time.perf_counter() - started:.1f} s")
    return codes
