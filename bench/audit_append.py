"""The audit log's append path alone, at 1 and N concurrent writers: `python -m bench.audit_append --writers 32`.

Three ways to append, each for --seconds at 1 writer and at --writers writers, in fresh databases of the bench
server (BENCH_DATABASE_URL / DATABASE_URL, else an embedded PostgreSQL):

1. chained insert: the database at migration 0010, whose trigger takes one advisory lock for every insert and
   chains the entry under it; each writer commits one entry a transaction (its own connection, one statement).
2. direct append: the same statement at head (migration 0011): no lock, the entry is inserted unsealed. This is
   what store.audit.append costs a mutation's transaction.
3. group writer: store.audit.AuditWriter, what reads use: each writer awaits its entry's durable commit, entries
   of concurrent writers share an INSERT and a commit.

For 2 and 3 the sealer (store.audit.Sealer) runs alongside, as in an API process; the figures include its work,
and the backlog it still had when the writers stopped is printed with the time it took to catch up.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
import orjson
import sqlalchemy as sa

from bench.population import _admin, bench_server
from store import audit, migrations
from store.db import asyncpg_connect_kwargs, create_engine, with_database

# The statement store.audit runs, for one entry, in asyncpg's numbered-parameter form.
_INSERT = str(audit._INSERT).replace(":entries", "$1")


def _entry(writer: int, n: int) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor="procurement",
        audience="procurement",
        operation="Check",
        operation_type="query",
        outcome="ok",
        request_id=uuid.uuid4().hex,
        purpose="招标资格审查 2026-118",
        subject_ids=[writer * 1_000_000 + n],
        fields_returned=["Query.subject", "Restriction.measure", "Subject.name", "Subject.restrictions"],
    )


async def _run_writers(writers: int, seconds: float, one: Callable[[int, int], Awaitable[None]]) -> float:
    """Entries a second that ``writers`` loops of ``one(writer, n)`` append in ``seconds``."""
    stop = time.monotonic() + seconds
    counts = [0] * writers

    async def loop(w: int) -> None:
        n = 0
        while time.monotonic() < stop:
            await one(w, n)
            n += 1
        counts[w] = n

    started = time.monotonic()
    await asyncio.gather(*(loop(w) for w in range(writers)))
    return sum(counts) / (time.monotonic() - started)


async def _direct(url: str, writers: int, seconds: float) -> float:
    """One connection a writer, one autocommit INSERT (a transaction) an entry."""
    conns = [await asyncpg.connect(**asyncpg_connect_kwargs(url)) for _ in range(writers)]
    try:

        async def one(w: int, n: int) -> None:
            await conns[w].execute(_INSERT, orjson.dumps([_entry(w, n).row()]).decode())

        return await _run_writers(writers, seconds, one)
    finally:
        for c in conns:
            await c.close()


async def _grouped(url: str, writers: int, seconds: float) -> float:
    engine = create_engine(url, pool_size=4, max_overflow=0)
    writer = audit.AuditWriter(engine)
    try:

        async def one(w: int, n: int) -> None:
            await writer.append(_entry(w, n))

        return await _run_writers(writers, seconds, one)
    finally:
        await writer.close()
        await engine.dispose()


async def _with_sealer(url: str, run: Callable[[], Awaitable[float]]) -> tuple[float, int, float]:
    """``run()`` with a sealer alongside: its rate, the backlog left when it ended, the seconds to seal it."""
    engine = create_engine(url, pool_size=1, max_overflow=0, application_name="bench sealer")
    watcher = create_engine(url, pool_size=1, max_overflow=0)
    sealer = audit.Sealer(engine)
    sealer.start()
    try:
        rate = await run()
        async with watcher.connect() as conn:
            backlog = await audit.unsealed(conn)
            await conn.rollback()
            started = time.monotonic()
            if not await audit.wait_until_sealed(conn, within=600):
                raise RuntimeError("the sealer did not catch up")
            return rate, backlog, time.monotonic() - started
    finally:
        await sealer.stop()
        await engine.dispose()
        await watcher.dispose()


async def _seal_backlog(url: str, entries: int) -> float:
    """Entries a second one sealer chains from a backlog of ``entries`` unsealed ones."""
    engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO audit_log (actor, audience, operation, operation_type, outcome, subject_ids,"
                    " fields_returned) SELECT 'procurement', 'procurement', 'Check', 'query', 'ok', ARRAY[g],"
                    " ARRAY['Query.subject', 'Subject.name'] FROM generate_series(1, :n) g"
                ),
                {"n": entries},
            )
        async with engine.connect() as conn:
            started = time.monotonic()
            sealed = await audit.seal(conn)
            return sealed / (time.monotonic() - started)
    finally:
        await engine.dispose()


async def _verify(url: str) -> audit.ChainReport:
    engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
    try:
        async with engine.connect() as conn:
            return await audit.verify(conn)
    finally:
        await engine.dispose()


def fresh(server: str, name: str, revision: str) -> str:
    asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    url = with_database(server, name)
    migrations.upgrade(url, revision)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-chained", action="store_true", help="Leave out the 0010 chained insert.")
    args = parser.parse_args()
    counts = sorted({1, args.writers})
    with bench_server() as server:
        results: dict[str, dict[int, str]] = {}
        if not args.skip_chained:
            old = fresh(server, "hrss_bench_audit_0010", "0010")
            results["chained insert (0010, one lock)"] = {
                n: f"{asyncio.run(_direct(old, n, args.seconds)):,.0f}" for n in counts
            }
            asyncio.run(_admin(server, 'DROP DATABASE "hrss_bench_audit_0010" WITH (FORCE)'))
        url = fresh(server, "hrss_bench_audit", "head")
        notes = []
        for label, path in (("direct append (0011, no lock)", _direct), ("group writer (AuditWriter)", _grouped)):
            row = {}
            for n in counts:

                def run(path: Callable[[str, int, float], Awaitable[float]] = path, n: int = n) -> Awaitable[float]:
                    return path(url, n, args.seconds)

                rate, backlog, drained = asyncio.run(_with_sealer(url, run))
                row[n] = f"{rate:,.0f}"
                notes.append(
                    f"{label}, {n} writers: {backlog:,} unsealed when the writers stopped, sealed in {drained:.1f} s"
                )
            results[label] = row
        backlog_rate = asyncio.run(_seal_backlog(url, 100_000))
        report = asyncio.run(_verify(url))
        asyncio.run(_admin(server, 'DROP DATABASE "hrss_bench_audit" WITH (FORCE)'))
    print(f"audit entries appended a second, {args.seconds:g} s each (entries durable when counted)")
    print(f"{'':34}" + "".join(f"{f'{n} writer' + ('s' if n > 1 else ''):>14}" for n in counts))
    for label, row in results.items():
        print(f"{label:34}" + "".join(f"{row[n]:>14}" for n in counts))
    for note in notes:
        print(note)
    print(f"the sealer alone, from a backlog of 100,000 entries: {backlog_rate:,.0f} entries/s")
    print(
        f"chain after the 0011 runs: {report.entries:,} entries sealed, {report.unsealed} unsealed, "
        f"{'intact' if report.intact else f'BROKEN at {report.first_broken_id}'}"
    )


if __name__ == "__main__":
    main()
