"""`hrss-credit import FILE`: chunked transactions that skip bad rows, the report of the rows not written,
refused chunks, resumption, idempotent replays, workers that end with the command."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from api.cli import app
from services import grading as read_grades
from services.import_files import (
    CSV_BOOLEANS,
    CSV_COLUMNS,
    CSV_JSON,
    CSV_REQUIRED,
    ImportFileError,
    chunks,
    count_rows,
    csv_cells,
    read_rows,
)
from services.import_workers import APPLICATION_NAME
from services.imports import ProgressState, default_report_path, import_path, progress_path
from store import bulk
from store.db import bureau_today, create_engine
from store.pii import PiiCipher
from store.tables import credit_records, grades, outbox, subjects
from tests import factories
from tests.conftest import TEST_PII_KEY, cloned_database

runner = CliRunner()
TODAY = bureau_today()
DECIDED = TODAY - timedelta(days=30)
UNIT = "上海市人力资源和社会保障局执法总队"


def record(n: int, uscc: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid RecordInput of a new organization: a penalty every third row, else a lost arbitration."""
    penalty = n % 3 == 0
    row: dict[str, Any] = {
        "subject": {"uscc": uscc or factories.new_uscc()},
        "subjectName": f"上海批量导入{n}有限公司",
        "type": "ADMINISTRATIVE_PENALTY" if penalty else "ARBITRATION_LOST",
        "severity": "GENERAL" if penalty else None,
        "title": "一般程序行政处罚" if penalty else "劳动人事争议仲裁败诉",
        "decisionNumber": f"沪人社导〔2026〕{n}号",
        "sourceUnit": UNIT,
        "legalBasis": "《劳动保障监察条例》第二十六条" if penalty else None,
        "decidedOn": DECIDED.isoformat(),
        "publicityUntil": (DECIDED + timedelta(days=200)).isoformat() if penalty else None,
        "penaltyFulfilled": False if penalty else None,
        "details": {"row": n},
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in items))
    return path


def write_csv(path: Path, items: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in items:
            cells = {k: v for k, v in item.items() if k != "subject"}
            cells["subjectUscc"] = item["subject"].get("uscc")
            cells["subjectIdNumber"] = item["subject"].get("idNumber")
            if "details" in item:
                cells["details"] = orjson.dumps(item["details"]).decode()
            for flag in ("penaltyFulfilled", "laborContractAttested", "harmEliminated"):
                if flag in item:
                    cells[flag] = str(item[flag]).lower()
            writer.writerow(["" if cells.get(c) is None else cells[c] for c in CSV_COLUMNS])
    return path


async def invoke(args: list[str], database_url: str, tmp_path: Path) -> Result:
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY}
    return await asyncio.to_thread(runner.invoke, app, ["import", *args], env=env)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    e = create_engine(database_url)
    yield e
    await e.dispose()


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def decision_numbers(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(credit_records.c.decision_number))).scalars())


def report_rows(path: Path) -> list[tuple[int, str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["row", "field", "reason"]
        return [(int(r[0]), r[1], r[2]) for r in reader]


async def test_a_csv_file_is_imported_in_chunks_grades_recomputed_and_a_replay_creates_nothing(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    items = [record(n) for n in range(1, 2501)]
    file = write_csv(tmp_path / "records.csv", items)
    result = await invoke([str(file), "--chunk", "1000"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert (
        "2500 rows in 3 chunks of 1000: created 2500, unchanged 0, skipped 0 bad rows, refused 0 rows with 0 chunks"
        in result.output
    )
    assert await count(engine, credit_records) == 2500
    assert await count(engine, subjects) == 2500
    assert await count(engine, outbox) == 2500
    assert not progress_path(file).exists()
    assert report_rows(default_report_path(file)) == []

    penalized, lost = items[2]["subject"]["uscc"], items[0]["subject"]["uscc"]  # rows 3 and 1
    async with engine.connect() as conn:
        ids = dict((await conn.execute(sa.select(subjects.c.uscc, subjects.c.id))).all())
        graded = await read_grades.grades_on_day(conn, [(ids[penalized], TODAY), (ids[lost], TODAY)])
        graded_subjects = (await conn.execute(sa.select(sa.func.count(sa.distinct(grades.c.subject_id))))).scalar()
        stored = (
            await conn.execute(
                sa.select(credit_records.c.details, credit_records.c.penalty_fulfilled).where(
                    credit_records.c.decision_number == "沪人社导〔2026〕3号"
                )
            )
        ).one()
    assert graded[(ids[penalized], TODAY)].level == "C"  # WG art. 12(1)
    assert graded[(ids[lost], TODAY)].level != "C"
    assert graded_subjects == 2500
    assert tuple(stored) == ({"row": 3}, False)

    again = await invoke([str(file), "--chunk", "1000"], database_url, tmp_path)
    assert again.exit_code == 0, again.output
    assert "created 0, unchanged 2500, skipped 0 bad rows, refused 0 rows with 0 chunks" in again.output
    assert await count(engine, credit_records) == 2500
    assert await count(engine, outbox) == 2500


async def test_bad_rows_are_skipped_and_named_and_the_rest_of_their_chunk_lands(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    items = [record(n) for n in range(1, 31)]
    bad: dict[int, tuple[dict[str, Any], str, str]] = {
        12: ({"subject": {"uscc": "913101040000000000"}}, "subject.uscc", "check character"),
        15: ({"decidedOn": (TODAY + timedelta(days=5)).isoformat(), "publicityUntil": None}, "decidedOn", "future"),
        17: ({"subjectName": None}, "subjectName", "give subjectName to create it"),
        18: ({"severity": "SERIOUS", "legalBasis": None, "publicityUntil": None}, "legalBasis", "legal basis"),
        19: ({"category": "ENHANCING"}, "category", "ARBITRATION_LOST is a BASIC record, not ENHANCING"),
    }
    for n, (overrides, _, _) in bad.items():
        items[n - 1] = {k: v for k, v in (items[n - 1] | overrides).items() if v is not None}
    file = write_jsonl(tmp_path / "records.jsonl", items)
    report = tmp_path / "bad.csv"

    result = await invoke([str(file), "--chunk", "10", "--report", str(report)], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    numbers = await decision_numbers(engine)
    assert numbers == {f"沪人社导〔2026〕{n}号" for n in range(1, 31) if n not in bad}
    assert await count(engine, outbox) == 25
    assert "created 25, unchanged 0, skipped 5 bad rows, refused 0 rows with 0 chunks" in result.output
    assert "row 17, subjectName: the subject is unknown: give subjectName to create it" in result.output
    assert f"rejected rows: {report}" in result.output
    rows = report_rows(report)
    assert [(row, field) for row, field, _ in rows] == [(n, field) for n, (_, field, _) in bad.items()]
    for (_, _, reason), (_, _, expected) in zip(rows, bad.values(), strict=True):
        assert expected in reason
    assert not default_report_path(file).exists()


async def test_one_good_and_two_bad_rows_of_a_chunk_the_good_lands_the_bad_are_reported_and_counted(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A row that fails its own checks (an identifier) and a conflicting resend (a decision number recorded before
    with other content) are skipped and reported; the good row of their chunk lands. A replay is idempotent."""
    first = write_jsonl(tmp_path / "first.jsonl", [record(1)])
    assert (await invoke([str(first)], database_url, tmp_path)).exit_code == 0
    items = [record(2), record(3, uscc="913101040000000000"), record(1, title="另一份决定书")]
    file = write_jsonl(tmp_path / "records.jsonl", items)

    result = await invoke([str(file), "--chunk", "3"], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert (
        "3 rows in 1 chunk of 3: created 1, unchanged 0, skipped 2 bad rows, refused 0 rows with 0 chunks"
        in result.output
    )
    assert await decision_numbers(engine) == {"沪人社导〔2026〕1号", "沪人社导〔2026〕2号"}
    assert await count(engine, outbox) == 2
    async with engine.connect() as conn:
        title = (
            await conn.execute(
                sa.select(credit_records.c.title).where(credit_records.c.decision_number == "沪人社导〔2026〕1号")
            )
        ).scalar_one()
    assert title == "劳动人事争议仲裁败诉"  # the resend overwrote nothing
    rows = report_rows(default_report_path(file))
    assert [(row, field) for row, field, _ in rows] == [(2, "subject.uscc"), (3, "decisionNumber")]
    assert "check character" in rows[0][2]
    assert "already recorded this decision number with other content" in rows[1][2]

    again = await invoke([str(file), "--chunk", "3"], database_url, tmp_path)
    assert again.exit_code == 1, again.output
    assert "created 0, unchanged 1, skipped 2 bad rows, refused 0 rows with 0 chunks" in again.output
    assert report_rows(default_report_path(file)) == rows
    assert await count(engine, credit_records) == await count(engine, outbox) == 2


@pytest.mark.parametrize("blank_line", [False, True])
async def test_a_row_repeating_an_earlier_row_with_other_content_is_reported_with_both_file_row_numbers(
    engine: AsyncEngine, database_url: str, tmp_path: Path, blank_line: bool
) -> None:
    items = [record(1), record(2), record(1, title="另一份决定书")]
    file = write_jsonl(tmp_path / "records.jsonl", items)
    if blank_line:  # the rows are then numbered 1, 3 and 4
        first, rest = file.read_bytes().split(b"\n", 1)
        file.write_bytes(first + b"\n\n" + rest)
    result = await invoke([str(file)], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    last = 4 if blank_line else 3
    assert report_rows(default_report_path(file)) == [(last, "decisionNumber", "repeats row 1 with other content")]
    assert await decision_numbers(engine) == {"沪人社导〔2026〕1号", "沪人社导〔2026〕2号"}


async def test_one_bad_row_every_600_rows_of_a_file_in_many_chunks_every_good_row_lands(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Chunks of 1,000 rows written by two workers side by side, a bad row in each; a replay is idempotent."""
    items = [record(n) for n in range(1, 6001)]
    bad = range(600, 6001, 600)
    for n in bad:
        items[n - 1] = record(n, decidedOn=(TODAY + timedelta(days=3)).isoformat(), publicityUntil=None)
    file = write_csv(tmp_path / "records.csv", items)
    good = {f"沪人社导〔2026〕{n}号" for n in range(1, 6001) if n % 600}

    result = await invoke([str(file), "--workers", "2"], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert (
        "6000 rows in 6 chunks of 1000: created 5990, unchanged 0, skipped 10 bad rows, refused 0 rows with 0 chunks"
        in result.output
    )
    assert await decision_numbers(engine) == good
    assert await count(engine, outbox) == 5990
    assert [(row, field) for row, field, _ in report_rows(default_report_path(file))] == [(n, "decidedOn") for n in bad]

    again = await invoke([str(file), "--workers", "2"], database_url, tmp_path)
    assert again.exit_code == 1, again.output
    assert "created 0, unchanged 5990, skipped 10 bad rows, refused 0 rows with 0 chunks" in again.output
    assert await count(engine, credit_records) == await count(engine, outbox) == 5990


async def test_a_chunk_whose_transaction_fails_is_refused_whole_and_every_row_of_it_is_reported(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A failure in the database that the import cannot pin on one row (here a trigger's exception, raised while
    the records of chunk 2 are copied in) refuses that chunk only. Every row of it is in the report with the
    reason, a bad row with its own problem as well; the summary counts them. Once the database accepts the
    chunk, the same command writes it and leaves the other chunks unchanged."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                """
                CREATE FUNCTION refuse_archive() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.decision_number = '沪人社导〔2026〕15号' THEN
                    RAISE EXCEPTION 'the records archive is closed for maintenance';
                  END IF;
                  RETURN NEW;
                END $$
                """
            )
        )
        await conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_archive BEFORE INSERT ON credit_records FOR EACH ROW EXECUTE FUNCTION refuse_archive()"
            )
        )
    items = [record(n) for n in range(1, 31)]
    items[12] = record(13, uscc="913101040000000000")
    file = write_jsonl(tmp_path / "records.jsonl", items)
    command = [str(file), "--chunk", "10", "--workers", "0"]

    result = await invoke(command, database_url, tmp_path)
    assert result.exit_code == 1, result.output
    reason = (
        "its chunk was refused because its transaction failed: the records archive is closed for maintenance "
        "(SQLSTATE P0001)"
    )
    assert (
        "30 rows in 3 chunks of 10: created 20, unchanged 0, skipped 1 bad row, refused 9 rows with 1 chunk"
        in result.output
    )
    assert f"chunk 2 (rows 11-20): {reason}" in result.output
    assert await decision_numbers(engine) == {f"沪人社导〔2026〕{n}号" for n in [*range(1, 11), *range(21, 31)]}
    assert await count(engine, outbox) == 20
    rows = report_rows(default_report_path(file))
    assert [(row, field) for row, field, _ in rows] == [
        *((n, "") for n in range(11, 13)),
        (13, "subject.uscc"),
        *((n, "") for n in range(13, 21)),
    ]
    assert all(why == reason for row, field, why in rows if field == "")

    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TRIGGER refuse_archive ON credit_records"))
    again = await invoke(command, database_url, tmp_path)
    assert again.exit_code == 1, again.output
    assert "created 9, unchanged 20, skipped 1 bad row, refused 0 rows with 0 chunks" in again.output
    assert report_rows(default_report_path(file)) == [rows[2]]
    assert await count(engine, credit_records) == await count(engine, outbox) == 29


async def test_chunks_written_side_by_side_share_new_subjects_and_repeated_rows(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """Two worker processes land chunks at once; each pair of neighbouring chunks creates the same new
    organization, and a row of every chunk repeats a row of the chunk before it. The later writer waits for the
    earlier one's commit, fails on the unique key and is written again: one subject each, one record per decision
    number, nothing rejected."""
    pairs = 60
    shared = [factories.new_uscc() for _ in range(pairs)]
    items = [record(n, uscc=shared[(n - 1) // 10]) for n in range(1, 10 * pairs + 1)]
    repeats = range(7, 10 * pairs + 1, 5)  # row n repeats row n - 5, in the chunk before it, with the same content
    for n in repeats:
        items[n - 1] = items[n - 6]
    file = write_jsonl(tmp_path / "records.jsonl", items)
    # 120 chunks, landed by the two workers.
    summary = await import_path(database_url, file, pii=PiiCipher(TEST_PII_KEY), today=TODAY, chunk_size=5, workers=2)
    assert (summary.created, summary.unchanged, summary.rejected) == (len(items) - len(repeats), len(repeats), [])
    assert await count(engine, subjects) == pairs
    assert await count(engine, credit_records) == len(items) - len(repeats)
    assert await count(engine, outbox) == len(items) - len(repeats)
    async with engine.connect() as conn:
        graded = (await conn.execute(sa.select(sa.func.count(sa.distinct(grades.c.subject_id))))).scalar()
    assert graded == pairs and summary.recomputed >= 1


async def test_csv_rows_are_numbered_from_the_first_data_line_and_bad_cells_are_named(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "records.csv", [record(n) for n in range(1, 5)])
    lines = file.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('{""row"":2}', "{oops")  # data row 2: details that are not JSON
    lines[3] = lines[3].replace(",false,", ",maybe,")  # data row 3: penaltyFulfilled
    lines.insert(4, "")  # a blank line is no row
    # data row 6: too few cells; data row 7: a cell longer than the csv module reads
    file.write_text("\n".join([*lines, "a,b", "x" * 140_000 + lines[1]]) + "\n", encoding="utf-8")
    result = await invoke([str(file)], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    report = report_rows(default_report_path(file))
    assert [(row, field) for row, field, _ in report] == [(2, "details"), (3, "penaltyFulfilled"), (6, ""), (7, "")]
    assert report[2][2] == "has 2 cells, the header has 18"
    assert report[3][2] == "is not a CSV row: field larger than field limit (131072)"
    assert await decision_numbers(engine) == {"沪人社导〔2026〕1号", "沪人社导〔2026〕4号"}


async def test_source_unit_fills_in_missing_units_and_refuses_others(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    items = [record(1), record(2, sourceUnit=None), record(3)]
    file = write_jsonl(tmp_path / "unit.ndjson", items)
    result = await invoke([str(file), "--source-unit", "上海市徐汇区人力资源和社会保障局"], database_url, tmp_path)
    assert result.exit_code == 1
    assert [(row, field) for row, field, _ in report_rows(default_report_path(file))] == [
        (1, "sourceUnit"),
        (3, "sourceUnit"),
    ]
    assert "created 1, unchanged 0, skipped 2 bad rows" in result.output
    write_jsonl(file, [items[1]])
    result = await invoke([str(file), "--source-unit", "上海市徐汇区人力资源和社会保障局"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "created 0, unchanged 1, skipped 0 bad rows" in result.output
    async with engine.connect() as conn:
        assert (
            await conn.execute(sa.select(credit_records.c.source_unit))
        ).scalar_one() == "上海市徐汇区人力资源和社会保障局"


async def test_a_source_unit_file_import_never_renames_an_existing_subject(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """policy.md: a source unit writes its own unit's records; an existing subject keeps its name (a file
    import is held to the same rule as importRecords), a new one is created with the name its row gives."""
    unit = "上海市徐汇区人力资源和社会保障局"
    existing, new = factories.new_uscc(), factories.new_uscc()
    result = await invoke([str(write_csv(tmp_path / "first.csv", [record(1, existing)]))], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    items = [
        record(2, existing, subjectName="上海冒名顶替有限公司", sourceUnit=None),
        record(3, new, sourceUnit=None),
    ]
    result = await invoke([str(write_csv(tmp_path / "unit.csv", items)), "--source-unit", unit], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    async with engine.connect() as conn:
        names = {u: n for u, n in await conn.execute(sa.select(subjects.c.uscc, subjects.c.name))}
    assert names[existing] == "上海批量导入1有限公司"
    assert names[new] == "上海批量导入3有限公司"


async def test_a_file_that_cannot_be_read_is_refused_before_anything_is_written(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    unknown = tmp_path / "records.xlsx"
    unknown.write_bytes(b"x")
    result = await invoke([str(unknown)], database_url, tmp_path)
    assert result.exit_code == 2 and "unknown format" in result.output
    bad_header = tmp_path / "records.csv"
    bad_header.write_text("subjectUscc,title,color\n", encoding="utf-8")
    result = await invoke([str(bad_header)], database_url, tmp_path)
    assert result.exit_code == 2 and "unknown columns ['color']" in result.output
    assert not progress_path(bad_header).exists()
    short = tmp_path / "short.csv"
    short.write_text("subjectUscc,title\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"missing columns \['type', 'decisionNumber', 'decidedOn', 'sourceUnit"):
        await import_path(database_url, short, pii=PiiCipher(TEST_PII_KEY), today=TODAY)
    assert not progress_path(short).exists()
    header, row = write_csv(tmp_path / "good.csv", [record(1)]).read_text(encoding="utf-8").splitlines()
    not_utf8 = tmp_path / "latin1.csv"
    # past the first 8 KiB, which the header is read from: the error is found while the rows are counted
    not_utf8.write_bytes(
        f"{header}\n".encode() + f"{row}\n".encode() * 100 + row.encode() + ",café\n".encode("latin-1")
    )
    result = await invoke([str(not_utf8)], database_url, tmp_path)
    assert result.exit_code == 2 and "unreadable ('utf-8' codec can't decode byte 0xe9" in result.output
    unclosed = tmp_path / "unclosed.csv"  # row 2 opens a quote that is never closed
    unclosed.write_text(f'{header}\n{row}\n"never closed\n' + ("y" * 300 + "\n") * 5000, encoding="utf-8")
    result = await invoke([str(unclosed)], database_url, tmp_path)
    assert result.exit_code == 2, result.output
    assert "unclosed.csv:3: unreadable (a quoted cell opened on this line is still open" in result.output
    for file in (not_utf8, unclosed):
        assert not progress_path(file).exists()
    assert await count(engine, credit_records) == 0


class Interrupted(Exception):
    pass


def interrupt_after(chunk: int) -> Any:
    def hook(number: int) -> None:
        if number == chunk:
            raise Interrupted(f"killed after chunk {number}")

    return hook


async def snapshot(url: str) -> dict[str, Any]:
    """What an import leaves behind, without the generated keys: records, subjects, current grades, events."""
    e = create_engine(url)
    s, r, g = subjects.c, credit_records.c, grades.c
    async with e.connect() as conn:
        records = (
            await conn.execute(
                sa.select(s.uscc, r.decision_number, r.content_digest).join(subjects, s.id == r.subject_id)
            )
        ).all()
        current = (
            await conn.execute(
                sa.select(s.uscc, g.level, g.valid_from, g.valid_to)
                .join(subjects, s.id == g.subject_id)
                .where(g.superseded_at.is_(None))
            )
        ).all()
        events = (
            await conn.execute(
                sa.select(outbox.c.topic, r.decision_number).join(credit_records, r.id == outbox.c.aggregate_id)
            )
        ).all()
    await e.dispose()
    return {"records": sorted(records), "grades": sorted(current), "events": sorted(events)}


async def test_an_interrupted_import_resumes_after_the_last_committed_chunk(
    engine: AsyncEngine, database_url: str, server_url: str, template_db: str, tmp_path: Path
) -> None:
    items = [record(n) for n in range(1, 51)]
    file = write_jsonl(tmp_path / "records.jsonl", items)
    pii = PiiCipher(TEST_PII_KEY)
    with pytest.raises(Interrupted):
        await import_path(database_url, file, pii=pii, today=TODAY, chunk_size=10, after_chunk=interrupt_after(2))
    state = ProgressState.load(progress_path(file))
    assert state is not None and (state.last_committed_chunk, state.chunk_size) == (2, 10)
    assert orjson.loads(progress_path(file).read_bytes())["last_committed_chunk"] == 2
    assert await count(engine, credit_records) == 20

    # The re-run keeps the chunk size the progress file was written with.
    result = await invoke([str(file), "--chunk", "7"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert (
        "resumed after chunk 2 (chunks of 10 rows, as in the interrupted run): skipped 20 rows (2 chunks)"
        in result.output
    )
    assert "50 rows in 5 chunks of 10: created 30, unchanged 0" in result.output
    assert not progress_path(file).exists()

    async with cloned_database(server_url, template_db) as other:
        uninterrupted = await import_path(other, file, pii=pii, today=TODAY, chunk_size=10)
        assert uninterrupted.created == 50
        assert await snapshot(database_url) == await snapshot(other)


async def test_ctrl_c_stops_the_command_and_its_workers_after_the_chunks_under_way_and_it_resumes(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """The real command with its two forked workers, and Ctrl-C (SIGINT). The command stops with status 130
    and says how to resume. The workers finish the chunks they were writing, so only whole chunks are in the
    database, and no process is left behind. Run again, the command resumes and ends with every row written
    once, each with one outbox event."""
    file = write_jsonl(tmp_path / "records.jsonl", [record(n) for n in range(1, 4001)])
    command = [str(Path(sys.executable).with_name("hrss-credit")), "import", str(file), "--chunk", "10"]
    env = {**os.environ, "DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY}
    process = _start([*command, "--workers", "2"], env)
    deadline = time.monotonic() + 60
    while (state := ProgressState.load(progress_path(file))) is None or state.last_committed_chunk < 3:
        assert process.poll() is None, "the import ended before it was interrupted"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, errors = await asyncio.to_thread(process.communicate, timeout=60)
    assert process.returncode == 130, errors.decode()
    assert "interrupted: run the same command again" in errors.decode()
    assert _processes_running(file) == [], "a worker outlived the command"
    written = await count(engine, credit_records)
    assert written % 10 == 0 and 30 <= written < 4000
    assert await count(engine, outbox) == written

    resumed = await asyncio.to_thread(
        subprocess.run, command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert "resumed after chunk" in resumed.stderr.decode()
    assert await count(engine, credit_records) == await count(engine, outbox) == 4000
    assert len(await decision_numbers(engine)) == 4000


# An init process for the command alone: PR_SET_CHILD_SUBREAPER makes the processes orphaned under it (the
# workers of a killed command) its children, and it reaps every child, as init does, until none is left. It prints
# the command's pid, then, once it has no child left, the pids it reaped.
_REAPER = """
import ctypes, os, subprocess, sys

if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
command = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(command.pid, flush=True)
reaped = []
while True:
    try:
        reaped.append(os.waitpid(-1, 0)[0])
    except ChildProcessError:
        break
print(*reaped, flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
async def test_kill_9_of_the_command_ends_its_workers_and_leaves_no_process_and_no_connection(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """The real command with its two forked workers, killed with SIGKILL while they write: it has no chance to
    stop them. They end by themselves, so its init reaps them and no process is left behind, running or a zombie,
    nor a connection of theirs; only whole chunks are in the database, and the same command then resumes and
    writes every row once."""
    file = write_jsonl(tmp_path / "records.jsonl", [record(n) for n in range(1, 4001)])
    command = [str(Path(sys.executable).with_name("hrss-credit")), "import", str(file), "--chunk", "10"]
    env = {**os.environ, "DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY}
    reaper = _start_reaped([*command, "--workers", "2"], env)
    workers: list[int] = []
    try:
        assert reaper.stdout is not None
        pid = int(await asyncio.to_thread(reaper.stdout.readline))
        deadline = time.monotonic() + 60
        while (state := ProgressState.load(progress_path(file))) is None or state.last_committed_chunk < 3:
            assert reaper.poll() is None, "the import ended before it was killed"
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        workers = _children(pid)
        assert len(workers) == 2, workers
        os.kill(pid, signal.SIGKILL)
        rest, _ = await asyncio.to_thread(reaper.communicate, timeout=60)
    finally:
        if reaper.poll() is None:  # the workers did not end: stop them and their init
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
            reaper.kill()
            reaper.wait()
    assert reaper.returncode == 0
    assert {pid, *workers} <= {int(p) for p in rest.split()}
    assert _existing(workers) == [], "a worker is left behind"
    assert _processes_running(file) == []
    deadline = time.monotonic() + 30
    while await _import_connections(engine):  # PostgreSQL ends a backend once it sees its client gone
        assert time.monotonic() < deadline, "a connection of the killed import is left"
        await asyncio.sleep(0.01)
    written = await count(engine, credit_records)
    assert written % 10 == 0 and 30 <= written < 4000
    assert await count(engine, outbox) == written

    resumed = await asyncio.to_thread(
        subprocess.run, command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert "resumed after chunk" in resumed.stderr.decode()
    assert await count(engine, credit_records) == await count(engine, outbox) == 4000
    assert len(await decision_numbers(engine)) == 4000


def _start_reaped(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _REAPER, *command], env=env, stdout=subprocess.PIPE)  # noqa: S603


def _existing(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are processes still, running or zombies."""
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the fourth field of /proc/PID/stat, after the command's name)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process has ended meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def _import_connections(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        statement = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
        )
        return int((await conn.execute(statement, {"name": APPLICATION_NAME})).scalar_one())


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def _processes_running(file: Path) -> list[int]:
    """The processes whose command line names ``file`` (a forked worker has its command's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # the process has ended meanwhile
                continue
            if str(file) in line:
                found.append(int(entry.name))
    return found


async def test_a_chunk_with_a_bad_row_before_the_interruption_is_done_and_reported_again(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """The resumed run's report names every row of the file that is not written, those of the chunks the
    interrupted run wrote without their bad rows too: such a chunk is done again, its rows written then unchanged."""
    items = [record(n) for n in range(1, 31)]
    items[4] = record(5, type="AWARD", severity="GENERAL")  # an award has no severity
    file = write_jsonl(tmp_path / "records.jsonl", items)
    with pytest.raises(Interrupted):
        await import_path(
            database_url, file, pii=PiiCipher(TEST_PII_KEY), today=TODAY, chunk_size=10, after_chunk=interrupt_after(2)
        )
    state = ProgressState.load(progress_path(file))
    assert state is not None and (state.last_committed_chunk, state.rejected_chunks) == (2, [1])
    assert await count(engine, credit_records) == 19
    result = await invoke([str(file)], database_url, tmp_path)
    assert result.exit_code == 1
    assert (
        "resumed after chunk 2 (chunks of 10 rows, as in the interrupted run): skipped 10 rows (1 chunk)"
        in result.output
    )
    assert "created 10, unchanged 9, skipped 1 bad row, refused 0 rows with 0 chunks" in result.output
    assert [(row, field) for row, field, _ in report_rows(default_report_path(file))] == [(5, "severity")]
    assert await count(engine, credit_records) == await count(engine, outbox) == 29


async def test_a_changed_file_ignores_a_stale_progress_file(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    items = [record(n) for n in range(1, 31)]
    file = write_jsonl(tmp_path / "records.jsonl", items)
    with pytest.raises(Interrupted):
        await import_path(
            database_url, file, pii=PiiCipher(TEST_PII_KEY), today=TODAY, chunk_size=10, after_chunk=interrupt_after(1)
        )
    assert ProgressState.load(progress_path(file)) is not None
    write_jsonl(file, [*items, record(31)])  # another version of the file: a row added
    result = await invoke([str(file), "--chunk", "10"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "a progress file of another version of this file was ignored" in result.output
    assert "resumed" not in result.output
    assert "31 rows in 4 chunks of 10: created 21, unchanged 10" in result.output
    assert await count(engine, credit_records) == 31


def test_csv_columns_are_the_record_input_fields() -> None:
    assert set(CSV_COLUMNS) == {"subjectUscc", "subjectIdNumber", *bulk.RECORD_FIELDS} - {"subject"}


def test_csv_columns_made_from_the_record_fields_are_the_header_a_file_gives() -> None:
    """The columns made from domain.records' field table, in the order a file's header lists them, and which of
    them a row must have, reads as true or false, or reads as JSON text."""
    assert CSV_COLUMNS == (
        "subjectUscc",
        "subjectIdNumber",
        "subjectName",
        "type",
        "category",
        "severity",
        "title",
        "decisionNumber",
        "sourceUnit",
        "legalBasis",
        "occurredOn",
        "decidedOn",
        "publicityUntil",
        "penaltyFulfilled",
        "correctedOn",
        "laborContractAttested",
        "harmEliminated",
        "details",
    )
    assert frozenset({"penaltyFulfilled", "laborContractAttested", "harmEliminated"}) == CSV_BOOLEANS
    assert frozenset({"details"}) == CSV_JSON
    assert CSV_REQUIRED == ("type", "title", "decisionNumber", "decidedOn")


# Cells of a CSV file as awkward as a hand-made one: quotes inside and around cells, line breaks in quoted cells,
# blank and whitespace-only cells, commas.
_CSV_TEXT = st.text(alphabet='ab ,"\n\r\t\u3000', max_size=80)


@settings(max_examples=500, deadline=None)
@given(text=_CSV_TEXT, bom=st.booleans())
def test_csv_rows_are_read_as_the_csv_module_reads_the_file(
    tmp_path_factory: pytest.TempPathFactory, text: str, bom: bool
) -> None:
    """The rows' numbers and cells are those of ``csv.reader`` over the whole file: a row is numbered by the
    line it starts on, the header's excluded, and a row of blank cells is no row."""
    file = tmp_path_factory.mktemp("csv") / "records.csv"
    file.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("a,b\n" + text).encode())
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        expected, line = [], 0
        for cells in reader:
            start, line = line + 1, reader.line_num
            if start > 1 and any(c.strip() for c in cells):
                expected.append((start - 1, cells))
    rows = list(read_rows(file, "csv"))
    assert [(r.number, csv_cells(str(r.raw))) for r in rows] == expected
    assert count_rows(file, "csv") == len(expected)


def test_rows_are_counted_and_chunked_as_they_are_read_with_a_bom_and_blank_lines(tmp_path: Path) -> None:
    file = tmp_path / "records.jsonl"
    lines = [orjson.dumps(record(n)) for n in range(5)]
    file.write_bytes(b"\xef\xbb\xbf" + lines[0] + b"\n\n" + lines[1] + b"\n   \n" + b"\n".join(lines[2:]))
    rows = list(read_rows(file, "jsonl"))
    assert [r.number for r in rows] == [1, 3, 5, 6, 7] and rows[0].raw == lines[0] + b"\n"
    assert count_rows(file, "jsonl") == 5
    assert [(c.first, c.last, len(c)) for c in chunks(iter(rows), 2)] == [(1, 3, 2), (5, 6, 2), (7, 7, 1)]
    blank_start = tmp_path / "blank.jsonl"
    blank_start.write_bytes(b"\xef\xbb\xbf \n" + lines[0])
    assert count_rows(blank_start, "jsonl") == len(list(read_rows(blank_start, "jsonl"))) == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_sh_art_5_2_and_wg_art_9_2_typed_facts_are_columns_of_a_file(
    engine: AsyncEngine, database_url: str, tmp_path: Path, fmt: str
) -> None:
    eliminated = record(3, harmEliminated=True, publicityUntil=None)  # a penalty
    misplaced = record(1, harmEliminated=True)  # a lost arbitration case has no harm exception (SH art. 5(2))
    writer = write_csv if fmt == "csv" else write_jsonl
    file = writer(tmp_path / f"records.{fmt}", [eliminated, misplaced])
    result = await invoke([str(file)], database_url, tmp_path)
    assert result.exit_code == 1, result.output
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(credit_records.c.decision_number, credit_records.c.details))).all()
    assert [(r.decision_number, r.details.get("harm_eliminated")) for r in rows] == [
        (eliminated["decisionNumber"], True)
    ]
    assert [(row, field) for row, field, _ in report_rows(default_report_path(file))] == [(2, "harmEliminated")]
