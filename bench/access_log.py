"""What the subject index of the audit log costs a screen's entry: `python -m bench access_log`.

A screen's audit entry names up to 1,000 subjects, and every one of them is a key of the GIN index that the
employer's access log reads (migration 0015). This measures the PostgreSQL CPU of appending such entries with
each candidate index: one asyncpg connection appends --entries entries of --ids random subject ids each (drawn
from --subjects subjects), one autocommit INSERT an entry (the statement store.audit writes with), into a log
prefilled with --prefill such entries; the CPU is its backend's user + system time from /proc/<pid>/stat, so
the server must run on this host. The entries are then sealed as the sealer seals them (``audit_log_seal``, one
UPDATE of every entry, never a HOT one: the partial index of the unsealed tail names ``hash``), and that is
measured too, since the sealed versions get index keys of their own. Autovacuum is off for the log, so that no
background worker merges the index unmeasured; where the index defers work (fastupdate) the merge is run and
measured after the seal.

1. no index (migration 0014, the log before its subject index)
2. GIN, fastupdate off: every key goes into the tree at insert
3. GIN, fastupdate on, the default 4 MB pending list: an insert that fills the list merges it, inline
4. GIN, fastupdate on, 32 MB pending list (migration 0015): inserts append; the sealer merges in the background
5. the same over sealed entries only (migration 0018): the keys go in at the seal, none at the insert
6. a side table (subject_id, entry_id) with a B-tree, filled by a statement trigger: ordered pages, 1,000 rows
   an entry

Each runs in its own copy of the prefilled database. Afterwards, at head, it prints the EXPLAIN ANALYZE of the
access log's first page for a subject named in one entry of --hot-every, and for one named in a few.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]
import orjson

from bench.audit_append import fresh
from bench.population import _admin, bench_server
from store import access_log, audit
from store.db import asyncpg_connect_kwargs, create_engine, with_database
from store.paging import Window

_INSERT = str(audit._INSERT).replace(":entries", "$1")
_TICK = os.sysconf("SC_CLK_TCK")
PENDING_LIMIT_KB = 32768

_SIDE_TABLE = """
    CREATE TABLE audit_subjects (subject_id bigint NOT NULL, entry_id bigint NOT NULL);
    CREATE INDEX ix_audit_subjects ON audit_subjects (subject_id, entry_id DESC);
    CREATE FUNCTION audit_subjects_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO audit_subjects SELECT s, n.id FROM new_rows n, unnest(n.subject_ids) s;
      RETURN NULL;
    END $$;
    CREATE TRIGGER audit_subjects_add AFTER INSERT ON audit_log REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION audit_subjects_add();
"""

VARIANTS: dict[str, str | None] = {
    "no index (0014)": None,
    "GIN, fastupdate off": "CREATE INDEX ix_bench ON audit_log USING gin (subject_ids) WITH (fastupdate = off)",
    "GIN, fastupdate, 4 MB list (inline merge)": "CREATE INDEX ix_bench ON audit_log USING gin (subject_ids)"
    " WITH (fastupdate = on, gin_pending_list_limit = 4096)",
    "GIN, fastupdate, 32 MB list (0015)": "CREATE INDEX ix_bench ON audit_log USING gin (subject_ids)"
    f" WITH (fastupdate = on, gin_pending_list_limit = {PENDING_LIMIT_KB})",
    "the same, sealed entries only (0018)": "CREATE INDEX ix_bench ON audit_log USING gin (subject_ids)"
    f" WITH (fastupdate = on, gin_pending_list_limit = {PENDING_LIMIT_KB}) WHERE hash IS NOT NULL",
    "side table + B-tree": _SIDE_TABLE,
}


@dataclass
class Outcome:
    insert_cpu_ms: float  # per entry
    seal_cpu_ms: float  # per entry, the sealer's UPDATE
    merge_cpu_ms: float  # per entry, the deferred merge
    median_ms: float
    max_ms: float
    index_mb: float


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15)


def _entry(rng: random.Random, subjects: int, ids: int) -> str:
    entry = audit.AuditEntry(
        actor="procurement",
        audience="procurement",
        operation="Screen",
        operation_type="query",
        outcome="ok",
        request_id=uuid.uuid4().hex,
        purpose="招标资格审查 2026-118",
        subject_ids=rng.sample(range(1, subjects + 1), ids),
        fields_returned=["Query.screen", "ScreeningResult.restricted"],
    )
    return orjson.dumps([entry.row()]).decode()


async def _prefill(url: str, entries: int, subjects: int, ids: int, hot_every: int) -> None:
    """``entries`` screens' entries; subject 1 is named in one of every ``hot_every``, subject 2 in a few."""
    conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        await conn.execute(
            "INSERT INTO audit_log (actor, audience, operation, operation_type, outcome, purpose, subject_ids)"
            " SELECT 'procurement', 'procurement', 'Screen', 'query', 'ok', '招标资格审查',"
            "   ARRAY(SELECT DISTINCT 3 + (random() * ($2 - 3))::bigint FROM generate_series(1, $3) WHERE g > 0"
            "         UNION SELECT 1 WHERE g % $4 = 0 UNION SELECT 2 WHERE g % ($1 / 5) = 0 ORDER BY 1)"
            " FROM generate_series(1, $1) g",
            entries,
            subjects,
            ids,
            hot_every,
        )
        await conn.execute("SELECT audit_log_seal(9223372036854775807, 2147483647)")
        await conn.execute("ALTER TABLE audit_log SET (autovacuum_enabled = off)")
        await conn.execute("VACUUM ANALYZE audit_log")
    finally:
        await conn.close()


async def _measure(url: str, ddl: str | None, entries: int, subjects: int, ids: int) -> Outcome:
    conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        if ddl:
            await conn.execute(ddl)
        rng = random.Random(11)
        bodies = [_entry(rng, subjects, ids) for _ in range(entries)]
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute(_INSERT, bodies[0])  # plans the statement, warms the caches
        started = _cpu_seconds(pid)
        timings = []
        for body in bodies[1:]:
            t0 = time.perf_counter()
            await conn.execute(_INSERT, body)
            timings.append((time.perf_counter() - t0) * 1000)
        inserted = _cpu_seconds(pid)
        await conn.execute("SELECT audit_log_seal(9223372036854775807, 2147483647)")
        sealed = _cpu_seconds(pid)
        if ddl and "fastupdate = on" in ddl:
            await conn.execute("SELECT gin_clean_pending_list('ix_bench')")
        merged = _cpu_seconds(pid)
        size = await conn.fetchval(
            "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relname IN ('ix_bench', 'audit_subjects', 'ix_audit_subjects')"
        )
    finally:
        await conn.close()
    timings.sort()
    n = len(timings)
    return Outcome(
        insert_cpu_ms=(inserted - started) * 1000 / n,
        seal_cpu_ms=(sealed - inserted) * 1000 / n,
        merge_cpu_ms=(merged - sealed) * 1000 / n,
        median_ms=timings[n // 2],
        max_ms=timings[-1],
        index_mb=size / 2**20,
    )


async def _explain(url: str, subject_id: int) -> str:
    """EXPLAIN ANALYZE of the access log's first page (20 entries) for ``subject_id``, as the API runs it."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        statement = access_log.query(subject_id, Window(size=20), excluding_audience="employer")
        compiled = statement.compile(dialect=engine.dialect)
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            rows = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + compiled.string, *params)
            await conn.rollback()
        return "\n".join(r[0] for r in rows)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench access_log", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1000, help="entries appended and measured per variant")
    parser.add_argument("--prefill", type=int, default=10_000, help="entries in the log before measuring")
    parser.add_argument("--ids", type=int, default=1000, help="subject ids an entry names")
    parser.add_argument("--subjects", type=int, default=100_000, help="the subjects the ids are drawn from")
    parser.add_argument("--hot-every", type=int, default=10, help="subject 1 is named in one entry of this many")
    args = parser.parse_args(argv)
    results: dict[str, Outcome] = {}
    with bench_server() as server:
        base = fresh(server, "hrss_bench_access_base", "0014")
        asyncio.run(_prefill(base, args.prefill, args.subjects, args.ids, args.hot_every))
        for label, ddl in VARIANTS.items():
            name = "hrss_bench_access_variant"
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            asyncio.run(_admin(server, f'CREATE DATABASE "{name}" TEMPLATE "hrss_bench_access_base"'))
            results[label] = asyncio.run(
                _measure(with_database(server, name), ddl, args.entries, args.subjects, args.ids)
            )
            asyncio.run(_admin(server, f'DROP DATABASE "{name}" WITH (FORCE)'))
        head = fresh(server, "hrss_bench_access_head", "head")
        asyncio.run(_prefill(head, args.prefill, args.subjects, args.ids, args.hot_every))
        plans = {s: asyncio.run(_explain(head, s)) for s in (1, 2)}
        for name in ("hrss_bench_access_base", "hrss_bench_access_head"):
            asyncio.run(_admin(server, f'DROP DATABASE "{name}" WITH (FORCE)'))
    print(
        f"appending {args.entries:,} entries of {args.ids:,} subject ids into a log of {args.prefill:,}:"
        " backend CPU ms an entry (insert, seal, deferred merge, total), wall ms an insert (median, max), index MB"
    )
    print(f"{'':44}{'insert':>8}{'seal':>8}{'merge':>8}{'total':>8}{'median':>8}{'max':>8}{'MB':>8}")
    unindexed = results["no index (0014)"]
    base_cpu = unindexed.insert_cpu_ms + unindexed.seal_cpu_ms
    for label, o in results.items():
        total = o.insert_cpu_ms + o.seal_cpu_ms + o.merge_cpu_ms
        print(
            f"{label:44}{o.insert_cpu_ms:8.2f}{o.seal_cpu_ms:8.2f}{o.merge_cpu_ms:8.2f}{total:8.2f}"
            f"{o.median_ms:8.2f}{o.max_ms:8.1f}{o.index_mb:8.1f}   (+{total - base_cpu:.2f} ms)"
        )
    for subject, plan in plans.items():
        print(f"\naccess log, first page, subject {subject}:\n{plan}")


if __name__ == "__main__":
    main()
