"""What PostgreSQL alone spends on each write a bulk-imported row makes, without any client work.

Run after ``python -m bench import`` (which leaves the database ``hrss_bench_import`` with 1M+ records)::

    python bench/insert_parts.py [URL]

Each part is a statement over 5,000 generated rows, timed 7 times in a transaction that is rolled back
(median and minimum, µs a row): the record (its 4 indexes and the statement's check of its subjects), its
outbox event, its queue row, a new subject (half the rows of the benchmark's file create one), and, for
comparison, the record and its event as they were before migration 0006.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import asyncpg

ROWS = 5000  # the rows _SOURCE generates
ROUNDS = 7
_SOURCE = """
CREATE TEMP TABLE src ON COMMIT DROP AS
SELECT (random() * 400000)::bigint + 1 AS subject_id, 'BASIC' AS category, 'ARBITRATION_LOST' AS type,
       NULL::text AS severity, '劳动人事争议仲裁败诉' AS title,
       '实验〔2025〕' || g || '-' || (random() * 1e9)::bigint || '号' AS decision_number,
       '上海市人力资源和社会保障局执法总队' AS source_unit, NULL::text AS legal_basis, NULL::date AS occurred_on,
       date '2025-03-01' AS decided_on, NULL::date AS publicity_until, NULL::boolean AS penalty_fulfilled,
       NULL::date AS corrected_on, '{}'::jsonb AS details, md5(g::text) || md5(g::text) AS content_digest
FROM generate_series(1, 5000) g
"""
_RECORD = """
INSERT INTO credit_records (subject_id, category, type, severity, title, decision_number, source_unit, legal_basis,
  occurred_on, decided_on, publicity_until, penalty_fulfilled, corrected_on, details, content_digest, created_by)
SELECT *, 'bench' FROM src
"""
_EVENT = "INSERT INTO outbox (topic, aggregate_id) SELECT 'record.created', subject_id FROM src"
# Before migration 0006: the payload copied from the row, a random event id.
_EVENT_COPIED = """
INSERT INTO outbox (topic, aggregate_id, payload)
SELECT 'record.created', subject_id, jsonb_build_object('type', type, 'category', category, 'severity', severity,
  'title', title, 'decision_number', decision_number, 'source_unit', source_unit, 'legal_basis', legal_basis,
  'occurred_on', occurred_on, 'decided_on', decided_on, 'publicity_until', publicity_until,
  'penalty_fulfilled', penalty_fulfilled, 'corrected_on', corrected_on, 'details', details, 'record_id', 1,
  'subject_id', subject_id, 'version', 1)
FROM src
"""
_QUEUE = """
INSERT INTO recompute_queue (subject_id) SELECT DISTINCT subject_id FROM src ORDER BY 1
ON CONFLICT (subject_id) DO UPDATE SET queued_at = now()
"""
_SUBJECT = """
INSERT INTO subjects (kind, name, uscc, region_code)
SELECT 'ORGANIZATION', '新导入企业' || decision_number, md5(decision_number), '310106' FROM src
"""
_WITH_FOREIGN_KEY = [
    "DROP TRIGGER credit_records_subject_exists ON credit_records",
    "ALTER TABLE credit_records ADD CONSTRAINT fk_subject FOREIGN KEY (subject_id) REFERENCES subjects (id)",
]
PARTS: dict[str, tuple[list[str], str]] = {
    "record": ([], _RECORD),
    "record with a foreign key to subjects instead": (_WITH_FOREIGN_KEY, _RECORD),
    "outbox event": ([], _EVENT),
    "outbox event with a copied payload, random id instead": (
        ["ALTER TABLE outbox ALTER COLUMN event_id SET DEFAULT gen_random_uuid()"],
        _EVENT_COPIED,
    ),
    "queue row": ([], _QUEUE),
    "new subject (organization)": ([], _SUBJECT),
}


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    timings: dict[str, list[float]] = {part: [] for part in PARTS}
    for _ in range(ROUNDS):
        for part, (setup, statement) in PARTS.items():
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute(_SOURCE)
            for step in setup:
                await conn.execute(step)
            started = time.perf_counter()
            await conn.execute(statement)
            timings[part].append((time.perf_counter() - started) / ROWS * 1e6)
            await transaction.rollback()  # nothing stays
    await conn.close()
    for part, values in timings.items():
        print(f"{part:56s} {statistics.median(values):6.1f} µs a row (min {min(values):.1f})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/hrss_bench_import"))
