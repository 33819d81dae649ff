"""The bulk import (`hrss-credit import`) into a database that already holds 1M records.

The population is loaded with COPY (asyncpg ``copy_records_to_table``), straight into the tables: organizations,
individuals and their records. The subjects the file will touch are graded beforehand by the real evaluation,
so the import supersedes real grade rows as it would in production. The file is a fresh one (new decision
numbers): about half of its records name existing organizations, the rest new organizations and individuals
(created with their names, ID numbers hashed and encrypted). It is imported through the command's own code path,
``services.imports.import_path`` (reading, the mutation's checks, chunked transactions, recomputation, outbox), and
then once more to show that a replay creates nothing.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.identifiers import make_id_number, make_uscc, mask_id_number
from domain.taxonomy import CATEGORY_OF, TITLE_ZH, RecordType
from domain.workdays import WorkCalendar
from services.imports import ImportSummary, import_path
from store import evaluation
from store.db import bureau_today, create_engine
from store.pii import PiiCipher
from store.records import content_digest
from store.tables import credit_records, subjects

PII_KEY = "bench-pii-key-0123456789abcdef0123456789"
SOURCE_UNIT = "上海市人力资源和社会保障局执法总队"
LEGAL_BASIS = "《劳动保障监察条例》第二十六条"
# (type, severity, share of the records) for organizations; individuals get listings and penalties.
ORG_MIX: list[tuple[RecordType, str | None, float]] = [
    (RecordType.ADMINISTRATIVE_PENALTY, "GENERAL", 0.30),
    (RecordType.VIOLATION_CORRECTED, None, 0.20),
    (RecordType.ARBITRATION_LOST, None, 0.25),
    (RecordType.AWARD, None, 0.10),
    (RecordType.HARMONIOUS_LABOR_RELATIONS, None, 0.10),
    (RecordType.WAGE_ARREARS_BLACKLIST, "SERIOUS", 0.05),
]
PERSON_MIX: list[tuple[RecordType, str | None, float]] = [
    (RecordType.WAGE_ARREARS_BLACKLIST, "SERIOUS", 0.4),
    (RecordType.JUDGMENT_DEFAULTER, "SERIOUS", 0.3),
    (RecordType.ADMINISTRATIVE_PENALTY, "GENERAL", 0.3),
]


def _pick(rng: random.Random, mix: list[tuple[RecordType, str | None, float]]) -> tuple[RecordType, str | None]:
    x = rng.random()
    for type_, severity, share in mix:
        x -= share
        if x < 0:
            return type_, severity
    return mix[-1][0], mix[-1][1]


def _content(type_: RecordType, severity: str | None, number: str, decided: date, today: date) -> dict[str, Any]:
    penalty = type_ is RecordType.ADMINISTRATIVE_PENALTY
    corrected = decided + timedelta(days=20)
    return {
        "type": type_.value,
        "category": CATEGORY_OF[type_].value,
        "severity": severity,
        "title": TITLE_ZH[type_],
        "decision_number": number,
        "source_unit": SOURCE_UNIT,
        "legal_basis": LEGAL_BASIS if severity else None,
        "occurred_on": None,
        "decided_on": decided,
        "publicity_until": decided + timedelta(days=200) if severity == "GENERAL" else None,
        "penalty_fulfilled": True if penalty else None,
        "corrected_on": corrected if penalty and corrected <= today else None,
        "details": {"labor_contract_attested": True} if type_ is RecordType.HARMONIOUS_LABOR_RELATIONS else {},
    }


SUBJECT_COLUMNS = ["id", "kind", "name", "uscc", "id_number_hash", "id_number_enc", "id_number_masked", "region_code"]
RECORD_COLUMNS = [
    "id",
    "subject_id",
    "category",
    "type",
    "severity",
    "title",
    "decision_number",
    "source_unit",
    "legal_basis",
    "decided_on",
    "publicity_until",
    "penalty_fulfilled",
    "corrected_on",
    "details",
    "content_digest",
    "created_by",
]


async def load_population(
    url: str, *, records: int, organizations: int, individuals: int, pii: PiiCipher, today: date, seed: int = 11
) -> list[str]:
    """COPY ``organizations`` + ``individuals`` subjects and ``records`` records; return the organizations' USCCs."""
    rng = random.Random(seed)
    started = time.perf_counter()
    codes = [make_uscc("9", "1", "310115", f"P{i:07d}") for i in range(organizations)]
    numbers = [
        make_id_number("310115", date(1960, 1, 1) + timedelta(days=i // 1000), i % 1000) for i in range(individuals)
    ]
    subject_rows = _subject_rows(codes, numbers, pii)
    record_rows = _record_rows(rng, records, organizations=organizations, individuals=individuals, today=today)
    await _copy_population(url, subject_rows, record_rows)
    print(
        f"loaded {organizations:,} organizations, {individuals:,} individuals and {records:,} records "
        f"by COPY in {time.perf_counter() - started:.1f} s"
    )
    return codes


def _subject_rows(codes: list[str], numbers: list[str], pii: PiiCipher) -> list[tuple[Any, ...]]:
    """The organizations numbered from 1, then the individuals, in the order of SUBJECT_COLUMNS."""
    subject_rows: list[tuple[Any, ...]] = []
    for i, code in enumerate(codes, start=1):
        subject_rows.append((i, "ORGANIZATION", f"基准导入企业{code[-8:]}", code, None, None, None, code[2:8]))
    for j, number in enumerate(numbers, start=len(codes) + 1):
        subject_rows.append(
            (
                j,
                "INDIVIDUAL",
                f"基准个人{j}",
                None,
                pii.lookup_hash(number),
                pii.encrypt(number),
                mask_id_number(number),
                number[:6],
            )
        )
    return subject_rows


def _record_rows(
    rng: random.Random, records: int, *, organizations: int, individuals: int, today: date
) -> list[tuple[Any, ...]]:
    """``records`` records spread over the subjects in proportion to their kinds, in the order of RECORD_COLUMNS."""
    record_rows: list[tuple[Any, ...]] = []
    for n in range(1, records + 1):
        person = rng.random() < individuals / (organizations + individuals)
        sid = rng.randint(organizations + 1, organizations + individuals) if person else rng.randint(1, organizations)
        type_, severity = _pick(rng, PERSON_MIX if person else ORG_MIX)
        decided = today - timedelta(days=rng.randint(1, 2000))
        content = _content(type_, severity, f"存量〔{decided.year}〕{n}号", decided, today)
        record_rows.append(
            (
                n,
                sid,
                *(content[k] for k in ("category", "type", "severity", "title", "decision_number", "source_unit")),
                *(content[k] for k in ("legal_basis", "decided_on", "publicity_until", "penalty_fulfilled")),
                content["corrected_on"],
                orjson.dumps(content["details"]).decode(),
                content_digest(content),
                "bench",
            )
        )
    return record_rows


async def _copy_population(url: str, subject_rows: list[tuple[Any, ...]], record_rows: list[tuple[Any, ...]]) -> None:
    """COPY the rows straight into the tables, move the id sequences past them, and VACUUM ANALYZE."""
    engine = create_engine(url, pool_size=1, statement_timeout_ms=3_600_000)
    async with engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.copy_records_to_table("subjects", records=subject_rows, columns=SUBJECT_COLUMNS)
        await raw.copy_records_to_table("credit_records", records=record_rows, columns=RECORD_COLUMNS)
        await conn.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('subjects', 'id'), (SELECT max(id) FROM subjects))")
        )
        await conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('credit_records', 'id'), (SELECT max(id) FROM credit_records))"
            )
        )
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
    await engine.dispose()


def write_file(
    path: Path,
    *,
    rows: int,
    existing: list[str],
    today: date,
    seed: int = 13,
    share_existing: float = 0.5,
    batch: int = 0,
) -> set[str]:
    """A fresh import file (JSON lines or CSV by the suffix); returns the existing USCCs it names.

    Files of different ``batch`` numbers (0-9) name different new subjects and decision numbers, in the same mix.
    """
    if not 0 <= batch <= 9 or (batch and rows >= 1_000_000):
        raise ValueError("batch is a digit; a batch other than 0 has fewer than 1,000,000 rows")
    rng = random.Random(seed + batch)
    touched: set[str] = set()
    items: list[dict[str, Any]] = []
    for n in range(1, rows + 1):
        item, code = _item(rng, n, existing=existing, today=today, share_existing=share_existing, batch=batch)
        if code is not None:
            touched.add(code)
        items.append(item)
    if path.suffix == ".csv":
        _write_csv(path, items)
    else:
        _write_jsonl(path, items)
    return touched


def _item(
    rng: random.Random, n: int, *, existing: list[str], today: date, share_existing: float, batch: int
) -> tuple[dict[str, Any], str | None]:
    """The file's ``n``th record as the import reads it, and the existing USCC it names, if it names one: an
    existing organization, a new one or a new individual, in that mix."""
    tag = str(batch) if batch else ""
    existing_code = None
    x = rng.random()
    if x < share_existing:
        existing_code = rng.choice(existing)
        subject, name, mix = {"uscc": existing_code}, None, ORG_MIX
    elif x < share_existing + (1 - share_existing) * 0.7:
        code = make_uscc("9", "1", "310106", f"N{tag}{n:06d}" if batch else f"N{n:07d}")
        subject, name, mix = {"uscc": code}, f"新导入企业{n}", ORG_MIX
    else:
        number = make_id_number(f"3101{6 + batch:02d}", date(1970, 1, 1) + timedelta(days=n // 1000), n % 1000)
        subject, name, mix = {"idNumber": number}, f"新导入个人{n}", PERSON_MIX
    type_, severity = _pick(rng, mix)
    decided = today - timedelta(days=rng.randint(1, 700))
    c = _content(type_, severity, f"导入{tag}〔{decided.year}〕{n}号", decided, today)
    item = {
        "subject": subject,
        "subjectName": name,
        "type": c["type"],
        "severity": c["severity"],
        "title": c["title"],
        "decisionNumber": c["decision_number"],
        "sourceUnit": c["source_unit"],
        "legalBasis": c["legal_basis"],
        "decidedOn": c["decided_on"].isoformat(),
        "publicityUntil": c["publicity_until"].isoformat() if c["publicity_until"] else None,
        "penaltyFulfilled": c["penalty_fulfilled"],
        "correctedOn": c["corrected_on"].isoformat() if c["corrected_on"] else None,
        "details": c["details"],
    }
    return {k: v for k, v in item.items() if v is not None}, existing_code


def _write_csv(path: Path, items: list[dict[str, Any]]) -> None:
    import csv

    from services.import_files import CSV_COLUMNS

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in items:
            cells = {
                "subjectUscc": item["subject"].get("uscc", ""),
                "subjectIdNumber": item["subject"].get("idNumber", ""),
                **{k: v for k, v in item.items() if k != "subject"},
            }
            cells["details"] = orjson.dumps(item["details"]).decode()
            if "penaltyFulfilled" in item:
                cells["penaltyFulfilled"] = "true" if item["penaltyFulfilled"] else "false"
            writer.writerow([cells.get(c, "") for c in CSV_COLUMNS])


def _write_jsonl(path: Path, items: list[dict[str, Any]]) -> None:
    with path.open("wb") as handle:
        for item in items:
            handle.write(orjson.dumps(item) + b"\n")


async def bench_import(
    url: str,
    *,
    records: int = 1_000_000,
    organizations: int | None = None,
    individuals: int | None = None,
    rows: int = 50_000,
    chunk: int = 1000,
    fmt: str = "jsonl",
    today: date | None = None,
    workers: int = 2,
    repeat: int = 1,
) -> float:
    """Load the population, import ``repeat`` fresh files of ``rows`` records one after the other, replay the
    first; print each import's figures and return the median of their rates (records/s landed)."""
    day = today or bureau_today()
    pii = PiiCipher(PII_KEY)
    codes = await load_population(
        url,
        records=records,
        organizations=organizations if organizations is not None else records * 2 // 5,  # 2.5 records each
        individuals=individuals if individuals is not None else records // 25,
        pii=pii,
        today=day,
    )
    directory = Path(tempfile.mkdtemp(prefix="hrss-bench-import-"))
    try:
        rates = []
        for batch in range(repeat):
            file = directory / f"records{batch}.{fmt}"
            rates.append(await _import_file(url, file, codes, chunk, rows, pii, day, workers, batch=batch))
        await _replay(url, directory / f"records0.{fmt}", chunk, pii, day, workers)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if repeat > 1:
        print(
            f"{repeat} imports of {rows:,} records: landed at {', '.join(f'{r:,.0f}' for r in rates)} records/s; "
            f"median {statistics.median(rates):,.0f}"
        )
    return statistics.median(rates)


async def _settle(engine: AsyncEngine) -> None:
    """A checkpoint before the import: the database holds its 1M records as a settled one would, rather than
    with the load's gigabyte of changes still being written out while the import runs (the checkpointer's
    writes, and a full page image in the WAL for the first change of every page after it starts)."""
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("CHECKPOINT"))
    except sa.exc.DBAPIError as exc:  # CHECKPOINT needs a superuser or pg_checkpoint
        print(f"no checkpoint before the import ({exc.orig}): the load's writes may still be in progress")


async def _import_file(
    url: str,
    file: Path,
    codes: list[str],
    chunk: int,
    rows: int,
    pii: PiiCipher,
    day: date,
    workers: int,
    *,
    batch: int,
) -> float:
    fmt = file.suffix[1:]
    touched = write_file(file, rows=rows, existing=codes, today=day, batch=batch)

    started = time.perf_counter()
    engine = create_engine(url, pool_size=1, statement_timeout_ms=3_600_000)
    graded = await _grade(engine, touched, day)
    print(f"graded the {graded:,} existing organizations the file names in {time.perf_counter() - started:.1f} s")
    await _settle(engine)
    before = await _count_records(engine)

    committed: list[float] = []  # when each chunk's outcome was taken, from the command's start
    begun = time.perf_counter()
    summary = await import_path(
        url,
        file,
        pii=pii,
        today=day,
        chunk_size=chunk,
        actor="bench",
        workers=workers,
        after_chunk=lambda _: committed.append(time.perf_counter() - begun),
    )
    assert not summary.rejected, summary.rejected[:5]
    rate = _report(summary, fmt=fmt, chunk=chunk, workers=workers, before=before, committed=committed)
    after = await _count_records(engine)
    await engine.dispose()
    print(f"  the database now holds {after:,} records")
    return rate


async def _grade(engine: AsyncEngine, touched: set[str], day: date) -> int:
    """Grade the existing organizations named by ``touched`` by the real evaluation; returns how many."""
    async with engine.begin() as conn:
        ids = list(
            (
                await conn.execute(
                    sa.select(subjects.c.id).where(
                        subjects.c.uscc == sa.any_(sa.cast(sorted(touched), sa.ARRAY(sa.Text)))
                    )
                )
            ).scalars()
        )
        for start in range(0, len(ids), 2000):
            await evaluation.recompute(conn, ids[start : start + 2000], calendar=WorkCalendar(), today=day)
    return len(ids)


async def _count_records(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count: int = (await conn.execute(sa.select(sa.func.count()).select_from(credit_records))).scalar_one()
    return count


def _report(
    summary: ImportSummary, *, fmt: str, chunk: int, workers: int, before: int, committed: list[float]
) -> float:
    """Print the import's figures: landed, the steady rate after the first chunk, the recomputation and the whole
    command; returns the rate at which the records landed (records/s)."""
    rate = summary.rows / summary.landed_seconds
    recompute = summary.seconds - summary.landed_seconds
    print(
        f"import {summary.rows:,} records ({fmt}, chunks of {chunk}, {workers} worker processes) into "
        f"{before:,} records: landed (validated, written with their outbox events, subjects queued) in "
        f"{summary.landed_seconds:.2f} s, {rate:,.0f} records/s (created {summary.created:,}, "
        f"unchanged {summary.unchanged:,})"
    )
    if len(committed) > 1:
        steady = (summary.rows - chunk) / (committed[-1] - committed[0])
        print(
            f"  the first chunk was in after {committed[0]:.2f} s (workers starting, first chunk); from then on "
            f"{steady:,.0f} records/s"
        )
    print(
        f"  then recomputed the grades and restrictions of {summary.recomputed:,} subjects in {recompute:.2f} s "
        f"({summary.recomputed / recompute if recompute else 0:,.0f} subjects/s); whole command "
        f"{summary.seconds:.2f} s, {summary.rows / summary.seconds:,.0f} records/s end to end"
    )
    return rate


async def _replay(url: str, file: Path, chunk: int, pii: PiiCipher, day: date, workers: int) -> None:
    replay = await import_path(url, file, pii=pii, today=day, chunk_size=chunk, actor="bench", workers=workers)
    print(
        f"replay of the first file: {replay.seconds:.2f} s, {replay.rows / replay.seconds:,.0f} records/s "
        f"(created {replay.created:,}, unchanged {replay.unchanged:,}, recomputed {replay.recomputed:,})"
    )
