"""Writing a bulk import's records: one INSERT over an array a column, against binary COPY.

Run after ``python -m bench import`` (which leaves the database ``hrss_bench_import`` with 1M+ records), on the
machine PostgreSQL runs on (the server's CPU is read from /proc)::

    python -m bench.copy_rows [URL]

The same 5,000 generated records are written both ways, 6 rounds each, alternating, in transactions that are
rolled back. Printed per record (median): the wall time, this process's CPU (encoding the values) and the
server backend's CPU. store.imports writes with COPY (store.db.copy_rows); the INSERT is what it did before.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

ROWS = 5000
ROUNDS = 6
COLUMNS = (
    ("subject_id", "bigint"),
    ("category", "text"),
    ("type", "text"),
    ("severity", "text"),
    ("title", "text"),
    ("decision_number", "text"),
    ("source_unit", "text"),
    ("legal_basis", "text"),
    ("occurred_on", "date"),
    ("decided_on", "date"),
    ("publicity_until", "date"),
    ("penalty_fulfilled", "boolean"),
    ("corrected_on", "date"),
    ("details", "text"),
    ("content_digest", "text"),
    ("created_by", "text"),
)
NAMES = [name for name, _ in COLUMNS]
INSERT = (  # column names from the constant above
    f"INSERT INTO credit_records ({', '.join(NAMES)}) "  # noqa: S608
    f"SELECT {', '.join('CAST(details AS jsonb)' if n == 'details' else n for n in NAMES)} "
    f"FROM unnest({', '.join(f'CAST(${i} AS {kind}[])' for i, (_, kind) in enumerate(COLUMNS, start=1))}) "
    f"AS r({', '.join(NAMES)})"
)


def _rows(tag: str, rng: random.Random) -> list[tuple[Any, ...]]:
    return [
        (
            rng.randint(1, 400_000),
            "BASIC",
            "ARBITRATION_LOST",
            None,
            "劳动人事争议仲裁败诉",
            f"实验〔2025〕{tag}-{i}号",
            "上海市人力资源和社会保障局执法总队",
            None,
            None,
            date(2025, 3, 1),
            None,
            None,
            None,
            "{}",
            f"{rng.getrandbits(256):064x}",
            "bench",
        )
        for i in range(ROWS)
    ]


def _server_cpu(pid: int) -> float:
    """Seconds the backend has run on a CPU (/proc/PID/schedstat, nanoseconds)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    rng = random.Random(5)
    results: dict[str, list[tuple[float, float, float]]] = {"INSERT over arrays": [], "binary COPY": []}
    for round_ in range(ROUNDS):
        for way, measured in results.items():
            rows = _rows(f"{round_}{way[0]}", rng)
            transaction = conn.transaction()
            await transaction.start()
            server, client, wall = _server_cpu(pid), time.process_time(), time.perf_counter()
            if way == "binary COPY":
                await conn.copy_records_to_table("credit_records", records=rows, columns=NAMES)
            else:
                await conn.execute(INSERT, *(list(column) for column in zip(*rows, strict=True)))
            measured.append((time.perf_counter() - wall, time.process_time() - client, _server_cpu(pid) - server))
            await transaction.rollback()
    await conn.close()
    for way, measured in results.items():
        wall, client, server = (statistics.median(m[i] for m in measured) / ROWS * 1e6 for i in range(3))
        print(f"{way:20s} wall {wall:5.1f} µs a record, client CPU {client:4.1f} µs, server CPU {server:4.1f} µs")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/hrss_bench_import"))
