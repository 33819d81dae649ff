"""``hrss-credit import FILE``: bulk import of credit records from CSV or JSON lines.

The file is read in chunks of ``--chunk`` rows; each row is checked exactly as the ``importRecords`` mutation
checks a row (``store.bulk.build_rows``) and each chunk is written in its own transaction
(``store.bulk.land_accepted_rows``: the records, their outbox events and their subjects queued for recomputation).
Unlike the mutation, which writes a batch whole or not at all, a file import skips a row that fails its own
checks (a bad field or identifier, an unknown subject without subjectName, a decision number recorded before with
other content) and writes the other rows of its chunk: one bad row in a large file must not hold back the good
rows around it. A chunk is refused whole only for a failure that is no one row's (its transaction fails in the
database, or the connection does): then nothing of it is written and every row of it goes to the report, "its
chunk was refused because …". ``--workers`` processes check and write chunks side by side, each on its own
connection (``_Lander``); their outcomes are taken in file order, and a worker ends with the command, even one
killed outright. Once every chunk has landed they recompute the queued grades and restrictions together
(``store.pending.drain``; a reader meanwhile recomputes what it reads). The report (file row number, field,
reason) is a CSV file, summarized on stderr with the count of rows created, unchanged, skipped and refused; the
exit status is 1 when any row is in the report.

Resumption: ``FILE.progress`` (JSON) names the file (its size and the SHA-256 of its first 64 KiB), the chunk
size, the last chunk committed and the chunks with rows in the report before it; a re-run after an interruption
skips the chunks already committed whole (the others are checked, written and reported again, so the report of
the run that finishes names every row of the file it did not write), and a changed file ignores a stale progress
file. The progress file is removed once every chunk was processed, so a later run of the same file replays it
whole: created 0, unchanged N. A crash between a commit and the progress update only makes the re-run redo that
chunk, which the import's idempotency by (source unit, decision number) turns into "unchanged"; so do chunks that
workers committed after the last one recorded (the progress file records chunks in file order).

Chunks written side by side commit in no fixed order. When rows of two neighbouring chunks give one decision
number with different content, one of the two rows is skipped ("already recorded ... with other content"): with
``--workers 0`` always the later one, with workers the one whose chunk commits second.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import csv
import dataclasses
import gc
import hashlib
import multiprocessing
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import orjson
import typer

# The store is imported where it is used: every ``hrss-credit`` command imports this module (api/cli.py).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from domain.workdays import WorkCalendar
    from store.imports import ImportRow, RowError
    from store.pii import PiiCipher

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# A CSV row names its subject in two columns of its own instead of the nested ``subject`` object; the other
# columns are the fields of store.bulk.RECORD_FIELDS.
CSV_SUBJECT_COLUMNS = {"subjectUscc": "uscc", "subjectIdNumber": "idNumber"}
CSV_COLUMNS = (
    *CSV_SUBJECT_COLUMNS,
    # store.bulk.RECORD_FIELDS without "subject" (kept literal: the store is imported only when a command runs;
    # tests/api/test_import_cli.py checks that the two agree).
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
_CSV_BOOLEANS = frozenset({"penaltyFulfilled", "laborContractAttested", "harmEliminated"})
_CSV_REQUIRED = ("type", "title", "decisionNumber", "decidedOn")
_TRUE = frozenset({"true", "1", "yes", "y", "是"})
_FALSE = frozenset({"false", "0", "no", "n", "否"})
HEAD_BYTES = 64 * 1024
MAX_CHUNK = 10_000
ACTOR = "cli:import"
APPLICATION_NAME = "hrss-credit import"
REPORT_COLUMNS = ("row", "field", "reason")
REFUSED = "its chunk was refused because"  # how the report's reason begins for a row of a chunk refused whole


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unknown format, bad CSV header, not UTF-8)."""


class SourceRow(NamedTuple):
    """A data row as read. One is made for every row of the file: a named tuple is cheaper to make than a dataclass."""

    number: int  # the file row number: 1-based data line (CSV: the header excluded; JSON lines: the line)
    raw: bytes | str  # a JSON line, or a CSV record's text (a quoted cell may hold line breaks)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A line of the report: a row not written, the field at fault (None: the whole row) and why."""

    row: int
    field: str | None
    reason: str


def _row(line: RejectedRow) -> int:
    """The report's order: by file row (a stable sort keeps a row's lines in the order they were found)."""
    return line.row


@dataclass(frozen=True, slots=True)
class RefusedChunk:
    number: int  # 1-based
    first_row: int
    last_row: int
    rows: int  # its rows that passed their own checks, and were not written for its failure
    reason: str  # "its chunk was refused because …"


@dataclass
class ImportSummary:
    file: Path
    report: Path
    chunk_size: int
    rows: int = 0  # data rows in the file
    chunks: int = 0
    created: int = 0
    unchanged: int = 0
    bad_rows: int = 0  # skipped for their own problems; the rest of their chunks was written
    refused_rows: int = 0  # rows that passed their own checks in chunks refused whole
    skipped_rows: int = 0  # committed by an earlier, interrupted run
    skipped_chunks: int = 0
    resumed_after: int | None = None  # the last chunk an earlier run committed
    stale_progress: bool = False  # a progress file of another version of the file was ignored
    rejected: list[RejectedRow] = field(default_factory=list)  # the report: every row not written, and why
    refused_chunks: list[RefusedChunk] = field(default_factory=list)
    recomputed: int = 0  # subjects whose grades and restrictions were recomputed after the records landed
    landed_seconds: float = 0.0  # until every chunk was committed
    seconds: float = 0.0  # until the grades and restrictions were recomputed too

    @property
    def processed_rows(self) -> int:
        """The rows this run read: created + unchanged + bad_rows + refused_rows."""
        return self.rows - self.skipped_rows


# --- Reading the file ------------------------------------------------------------------------------------------


def file_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise ImportFileError(
            f"{path.name}: unknown format; give a .csv file or JSON lines (.jsonl, .ndjson)"
        ) from None


def _csv_header(cells: list[str], path: Path, *, source_unit: str | None) -> list[str]:
    header = [c.strip() for c in cells]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ImportFileError(f"{path.name}: unknown columns {unknown}; the columns are {list(CSV_COLUMNS)}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ImportFileError(f"{path.name}: repeated columns {repeated}")
    missing = [c for c in _CSV_REQUIRED if c not in header]
    if "sourceUnit" not in header and source_unit is None:
        missing.append("sourceUnit (or give --source-unit)")
    if not any(c in header for c in CSV_SUBJECT_COLUMNS):
        missing.append("subjectUscc or subjectIdNumber")
    if missing:
        raise ImportFileError(f"{path.name}: missing columns {missing}")
    return header


def read_header(path: Path, fmt: str, *, source_unit: str | None = None) -> list[str]:
    """The checked CSV header (empty for JSON lines)."""
    if fmt != "csv":
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            first = next(csv.reader(handle), None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ImportFileError(f"{path.name}: unreadable header ({exc})") from None
    if first is None:
        raise ImportFileError(f"{path.name}: empty file; the first line must be the header")
    return _csv_header(first, path, source_unit=source_unit)


def read_rows(path: Path, fmt: str) -> Iterator[SourceRow]:
    """The file's data rows (after the CSV header); blank lines are no rows."""
    return _csv_rows(path) if fmt == "csv" else _json_lines(path)


# Where a CSV record ends, found without splitting it into cells: the command reads the file and the workers
# split the records (``csv_cells``). In the dialect the csv module reads by default, a record is fields
# separated by commas, each either unquoted (no comma, no line break) or quoted: a doubled quote inside stands
# for one, line breaks are kept, and what follows the closing quote up to the next comma is kept as csv keeps
# it. A line ends its record unless a quoted field is still open at its end; the lines after it then go on in
# that field until one closes it. Both patterns are possessive, so a line is matched in one pass.
# tests/api/test_import_cli.py holds the records, their numbers and their cells to csv.reader over the file.
_CSV_QUOTED_REST = r'(?:[^"]++|"")*+"[^,\r\n]*+'  # a quoted field after its opening quote
_CSV_FIELD = rf'(?:"{_CSV_QUOTED_REST}|(?!")[^,\r\n]*+)'
_CSV_REST = rf"(?:,{_CSV_FIELD})*+(?:\r\n|\r|\n)?"
_CSV_LINE_ENDS_RECORD = re.compile(_CSV_FIELD + _CSV_REST).fullmatch
_CSV_LINE_CLOSES_FIELD = re.compile(_CSV_QUOTED_REST + _CSV_REST).fullmatch
# A record longer than this is refused with the file: a quote opened and never closed would otherwise make the
# rest of the file one record, held in memory (a RecordInput row is a few kilobytes at most).
MAX_CSV_RECORD = 1 << 20  # characters
# What can make up a row of blank cells: the characters str.strip() removes, commas and quotes.
_NOT_CONTENT = "".join(ch for ch in map(chr, range(0x3100)) if ch.isspace()) + ',"'


def _csv_records(path: Path) -> Iterator[tuple[int, str]]:
    """(number of its first line, text) of every record of a CSV file, the header's included."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        number = start = size = 0
        open_lines: list[str] = []  # a record's lines so far, while a quoted field is open
        try:
            for line in handle:
                number += 1
                if open_lines:
                    open_lines.append(line)
                    size += len(line)
                    if _CSV_LINE_CLOSES_FIELD(line):
                        yield start, "".join(open_lines)
                        open_lines = []
                    elif size > MAX_CSV_RECORD:
                        raise ImportFileError(
                            f"{path.name}:{start}: unreadable (a quoted cell opened on this line is still open "
                            f"{size:,} characters on: a quote is missing)"
                        )
                elif '"' not in line or _CSV_LINE_ENDS_RECORD(line):
                    yield number, line
                else:
                    start, open_lines, size = number, [line], len(line)
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path.name}:{number + 1}: unreadable ({exc})") from None
        if open_lines:  # a quoted field open at the end of the file ends there, as csv reads it
            yield start, "".join(open_lines)


def _csv_rows(path: Path) -> Iterator[SourceRow]:
    """The data rows: the header and rows of blank cells are no rows."""
    records = _csv_records(path)
    next(records, None)  # the header: read_header reads and checks it
    for number, text in records:
        if not _blank_cells(text):
            yield SourceRow(number - 1, text)


def _blank_cells(text: str) -> bool:
    if text.lstrip(_NOT_CONTENT):  # any character but whitespace, a comma or a quote is in a cell
        return False
    try:
        return not "".join(csv_cells(text)).strip()
    except csv.Error:  # a row, which its worker reports
        return False


def csv_cells(text: str) -> list[str]:
    """The cells of a CSV record's text (raises ``csv.Error`` for a cell longer than csv's field size limit)."""
    return next(csv.reader((text,)), [])


_BOM = b"\xef\xbb\xbf"


def _json_data_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every line that holds data: a BOM before the first is dropped, blank lines skipped."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(_BOM)
            if line.strip():
                yield number, line


def _json_lines(path: Path) -> Iterator[SourceRow]:
    for number, line in _json_data_lines(path):
        yield SourceRow(number, line)


def parse_row(
    raw: bytes | str, header: list[str], *, source_unit: str | None
) -> tuple[dict[str, Any] | None, list[tuple[str | None, str]]]:
    """A RecordInput-shaped mapping of one row, and the problems of reading it (a bad JSON text, a bad cell)."""
    problems: list[tuple[str | None, str]] = []
    if isinstance(raw, bytes):
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return None, [(None, f"is not a JSON object: {exc}")]
        if not isinstance(item, dict):
            return None, [(None, "is not a JSON object (a RecordInput)")]
    else:
        try:
            cells = csv_cells(raw)
        except csv.Error as exc:
            return None, [(None, f"is not a CSV row: {exc}")]
        if len(cells) != len(header):
            return None, [(None, f"has {len(cells)} cells, the header has {len(header)}")]
        item = {}
        subject: dict[str, str] = {}
        for column, cell in zip(header, cells, strict=True):
            if cell == "":
                continue
            if column in CSV_SUBJECT_COLUMNS:
                subject[CSV_SUBJECT_COLUMNS[column]] = cell
            elif column in _CSV_BOOLEANS:
                word = cell.strip().lower()
                if word in _TRUE or word in _FALSE:
                    item[column] = word in _TRUE
                else:
                    problems.append((column, "must be true or false"))
            elif column == "details":
                try:
                    item[column] = orjson.loads(cell)
                except orjson.JSONDecodeError as exc:
                    problems.append((column, f"is not JSON text: {exc}"))
            else:
                item[column] = cell
        if subject:
            item["subject"] = subject
    if source_unit is not None and item.get("sourceUnit") in (None, ""):
        item["sourceUnit"] = source_unit
    return item, problems


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive rows of the file: their row numbers and their raw rows, side by side (what a worker process
    receives: two lists pickle about 20 times faster than as many SourceRow objects)."""

    numbers: list[int]
    raws: list[bytes | str]

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def first(self) -> int:
        return self.numbers[0]

    @property
    def last(self) -> int:
        return self.numbers[-1]


def chunks(rows: Iterator[SourceRow], size: int) -> Iterator[Chunk]:
    numbers: list[int] = []
    raws: list[bytes | str] = []
    for row in rows:
        numbers.append(row.number)
        raws.append(row.raw)
        if len(numbers) == size:
            yield Chunk(numbers, raws)
            numbers, raws = [], []
    if numbers:
        yield Chunk(numbers, raws)


def count_rows(path: Path, fmt: str) -> int:
    """How many rows ``read_rows`` gives (JSON lines: counted without making them)."""
    if fmt == "csv":
        return sum(1 for _ in _csv_rows(path))
    return sum(1 for _ in _json_data_lines(path))


# --- The progress file -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    size: int
    head_sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        return cls(path.stat().st_size, hashlib.sha256(head).hexdigest())


@dataclass
class ProgressState:
    fingerprint: Fingerprint
    chunk_size: int
    last_committed_chunk: int = 0  # 1-based; 0: none yet
    # Processed before the last commit with rows in the report: refused, or committed without their bad rows.
    rejected_chunks: list[int] = field(default_factory=list)

    def done(self, number: int) -> bool:
        """Whether an earlier run committed the whole of this chunk (the others are done again and reported again)."""
        return number <= self.last_committed_chunk and number not in self.rejected_chunks

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "size": self.fingerprint.size,
                "head_sha256": self.fingerprint.head_sha256,
                "chunk_size": self.chunk_size,
                "last_committed_chunk": self.last_committed_chunk,
                "rejected_chunks": self.rejected_chunks,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def load(cls, path: Path) -> ProgressState | None:
        """The saved state, or None when there is none or it cannot be read (then the import starts over)."""
        try:
            data = orjson.loads(path.read_bytes())
            return cls(
                Fingerprint(int(data["size"]), str(data["head_sha256"])),
                int(data["chunk_size"]),
                int(data["last_committed_chunk"]),
                [int(n) for n in data.get("rejected_chunks", [])],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, path: Path) -> None:
        # Write a sibling then rename: an interruption never leaves a half-written progress file.
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(self.to_json())
        os.replace(temporary, path)


def progress_path(file: Path) -> Path:
    return file.with_name(file.name + ".progress")


def default_report_path(file: Path) -> Path:
    return file.with_name(file.name + ".rejected.csv")


def write_report(path: Path, rejected: list[RejectedRow]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows((r.row, r.field or "", r.reason) for r in rejected)


# --- The import ------------------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    rows: list[ImportRow]  # the rows that passed their checks, each indexed by its file row number
    problems: list[RejectedRow]  # those of the other rows, in file order


def prepare_chunk(chunk: Chunk, header: list[str], *, today: date, source_unit: str | None) -> _Prepared:
    """Read and check one chunk's rows (no database): the rows that pass, and the problems of the others."""
    from store import bulk

    items: list[dict[str, Any]] = []
    numbers: list[int] = []
    problems: list[RejectedRow] = []
    unreadable: set[int] = set()  # rows with a cell that did not parse: checked for their other problems only
    for number, raw in zip(chunk.numbers, chunk.raws, strict=True):
        item, found = parse_row(raw, header, source_unit=source_unit)
        if found:
            problems += [RejectedRow(number, f, m) for f, m in found]
            unreadable.add(number)
        if item is not None:
            items.append(item)
            numbers.append(number)
    # The rows are indexed by their file row numbers, so that what the store says of a row later ("repeats row
    # 12 with other content") names file rows too. build_rows numbers them from start_index: the file's numbers
    # when they follow each other, as they usually do; otherwise (blank lines, line breaks in CSV cells, rows
    # that did not parse) they are renumbered.
    consecutive = not numbers or numbers[-1] - numbers[0] == len(numbers) - 1
    rows, errors = bulk.build_rows(
        items, today=today, start_index=numbers[0] if numbers and consecutive else 0, own_unit=source_unit
    )
    if consecutive:
        problems += [RejectedRow(e.index, e.field, e.message) for e in errors]
    else:
        rows = [dataclasses.replace(r, index=numbers[r.index]) for r in rows]
        problems += [RejectedRow(numbers[e.index], e.field, e.message) for e in errors]
    if unreadable:
        rows = [r for r in rows if r.index not in unreadable]
    problems.sort(key=_row)  # stable: a row's problems keep their order
    return _Prepared(rows, problems)


class _ChunkRefused(Exception):
    """A failure of a chunk's transaction that is no one row's; ``reason`` is the report's."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Landed:
    """What became of a chunk: the rows written (created or unchanged), the report's lines of the others, how many
    rows were skipped for their own problems, and why the chunk was refused, if it was (nothing of it written)."""

    created: int
    unchanged: int
    problems: list[RejectedRow]
    bad_rows: int
    refused: str | None = None


async def import_path(
    url: str,
    file: Path,
    *,
    pii: PiiCipher,
    today: date,
    chunk_size: int = 1000,
    report: Path | None = None,
    source_unit: str | None = None,
    actor: str = ACTOR,
    on_total: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    after_chunk: Callable[[int], None] | None = None,
    on_settle_total: Callable[[int], None] | None = None,
    on_settled: Callable[[int], None] | None = None,
    workers: int = 0,
) -> ImportSummary:
    """Import ``file`` chunk by chunk into the database at ``url``; see the module docstring.

    ``on_total`` receives the number of data rows, ``on_rows`` every batch of rows done (a progress bar);
    ``after_chunk`` the number of each chunk once it is committed and recorded (tests interrupt the import there).
    ``workers``: processes that check and write chunks side by side (0: this process, one chunk at a time).
    Raises ``ImportFileError`` when the file as a whole cannot be read.
    """
    from domain.workdays import WorkCalendar
    from store import holidays, pending

    started = time.perf_counter()
    fmt = file_format(file)
    source_unit = source_unit.strip() if source_unit and source_unit.strip() else None
    summary = ImportSummary(file, report or default_report_path(file), chunk_size)
    header = read_header(file, fmt, source_unit=source_unit)  # a bad header fails before anything is written
    summary.rows = count_rows(file, fmt)  # so does a file that cannot be read to its end
    state_path = progress_path(file)
    fingerprint = Fingerprint.of(file)
    state = ProgressState.load(state_path) if state_path.exists() else None
    if state is not None and state.fingerprint != fingerprint:
        summary.stale_progress = True
        state = None
    if state is not None:
        summary.chunk_size = chunk_size = state.chunk_size  # chunk numbers only mean something in its size
        if state.last_committed_chunk:
            summary.resumed_after = state.last_committed_chunk
    else:
        state = ProgressState(fingerprint, chunk_size)
    state.save(state_path)

    if on_total:
        on_total(summary.rows)
    engine = _engine(url)
    context = _ChunkContext(url, header, today, source_unit, pii, actor)
    parallel = workers > 0 and summary.rows > chunk_size
    try:
        with _Lander(engine, context, workers if parallel else 0) as lander:
            async with engine.connect() as conn:
                calendar = WorkCalendar(await holidays.load_table(conn))
            async for number, chunk, landed in lander.land(chunks(read_rows(file, fmt), chunk_size), skip=state.done):
                summary.chunks = number
                if landed is None:  # committed by an earlier run
                    summary.skipped_chunks += 1
                    summary.skipped_rows += len(chunk)
                else:
                    _count(summary, state, number, chunk, landed)
                    state.save(state_path)
                    if landed.refused is None and after_chunk:
                        after_chunk(number)
                if on_rows:
                    on_rows(len(chunk))
            summary.landed_seconds = time.perf_counter() - started
            # The records are in; now the grades and restrictions of every subject they touched (store.pending).
            if on_settle_total:
                async with engine.connect() as conn:
                    on_settle_total(await pending.queued_count(conn))
            summary.recomputed = await lander.drain(calendar, on_settled)
    finally:
        await engine.dispose()
    write_report(summary.report, summary.rejected)
    state_path.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass(frozen=True)
class _ChunkContext:
    """Everything checking and writing a chunk needs besides the chunk; sent once to each worker process."""

    url: str
    header: list[str]
    today: date
    source_unit: str | None
    pii: PiiCipher
    actor: str

    async def land(self, engine: AsyncEngine, chunk: Chunk) -> _Landed:
        prepared = prepare_chunk(chunk, self.header, today=self.today, source_unit=self.source_unit)
        try:
            created, unchanged, skipped = await _write(engine, prepared, pii=self.pii, actor=self.actor)
        except _ChunkRefused as refused:
            bad = len({p.row for p in prepared.problems})
            lines = [*prepared.problems, *(RejectedRow(n, None, refused.reason) for n in chunk.numbers)]
            lines.sort(key=_row)  # stable: a bad row's own problems come before its chunk's
            return _Landed(0, 0, lines, bad, refused.reason)
        problems = prepared.problems
        if skipped:
            problems = sorted([*problems, *(RejectedRow(e.index, e.field, e.message) for e in skipped)], key=_row)
        return _Landed(created, unchanged, problems, len({p.row for p in problems}))


class _Lander:
    """Checks and writes chunks, in this process (``workers`` 0) or in ``workers`` processes side by side, each
    with a connection of its own: reading, checking and writing overlap, and PostgreSQL works on several chunks
    at once. The outcomes come back in file order whatever order the chunks commit in; at most ``workers + 2``
    chunks are under way. Once every chunk has landed, the same processes drain the recompute queue together.

    Two chunks under way at once may create the same subject or repeat a decision number: the later one waits
    for the earlier one's commit, fails on the unique key, and is written again from the start (``_write``),
    which then finds the subject or the record.
    """

    def __init__(self, engine: AsyncEngine, context: _ChunkContext, workers: int) -> None:
        self._engine = engine
        self._context = context
        self._workers = workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> _Lander:
        if self._workers:
            import store.bulk  # noqa: F401  (what a chunk needs, loaded once here rather than by every worker)

            self._pool = concurrent.futures.ProcessPoolExecutor(
                self._workers,
                mp_context=_worker_context(),
                initializer=_start_worker,
                initargs=(self._context, os.getpid()),
            )
            self._pool.submit(_ready)  # the pool forks every worker at its first task: here, before any reading
        return self

    def __exit__(self, *exc: object) -> None:
        # Chunks already being written finish (and commit); queued ones are dropped.
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def land(
        self, source: Iterator[Chunk], *, skip: Callable[[int], bool]
    ) -> AsyncIterator[tuple[int, Chunk, _Landed | None]]:
        numbered = enumerate(source, start=1)
        if self._pool is None:
            for number, chunk in numbered:
                yield number, chunk, None if skip(number) else await self._context.land(self._engine, chunk)
            return
        ahead: collections.deque[tuple[int, Chunk, asyncio.Future[_Landed] | None]] = collections.deque()
        loop = asyncio.get_running_loop()
        while True:
            while len(ahead) < self._workers + 2:
                item = next(numbered, None)
                if item is None:
                    break
                number, chunk = item
                future = None if skip(number) else loop.run_in_executor(self._pool, _land_in_worker, chunk)
                ahead.append((number, chunk, future))
            if not ahead:
                return
            number, chunk, future = ahead.popleft()
            yield number, chunk, None if future is None else await future

    async def drain(self, calendar: WorkCalendar, on_batch: Callable[[int], None] | None) -> int:
        """Recompute the queued subjects; how many this import recomputed (API processes may help)."""
        from store import pending

        today = self._context.today
        pool = self._pool
        if pool is None:
            return await pending.drain(self._engine, calendar=calendar, today=today, on_batch=on_batch)
        async with self._engine.connect() as conn:
            left = await pending.queued_count(conn)
        loop = asyncio.get_running_loop()
        running = [loop.run_in_executor(pool, _drain_in_worker) for _ in range(self._workers)]
        waiting: set[asyncio.Future[int]] = set(running)
        while waiting:
            _, waiting = await asyncio.wait(waiting, timeout=0.5)
            if on_batch is not None:  # the progress bar follows the queue shrinking as the batches commit
                async with self._engine.connect() as conn:
                    now = await pending.queued_count(conn)
                if now < left:
                    on_batch(left - now)
                    left = now
        return sum(future.result() for future in running)


# One per worker process: its chunk context, its event loop and its engine (a single connection).
_worker: tuple[_ChunkContext, asyncio.AbstractEventLoop, AsyncEngine] | None = None
_WORKER_GC_THRESHOLDS = (50_000, 50, 1000)


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers are forked from this process: they start in milliseconds with every module already loaded (a fork
    server or spawned processes import them again, about 0.7 s of CPU, a tenth of a 50,000-row import's). The
    worker leaves everything it inherits alone (``_start_worker``); where fork does not exist, they are spawned."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _engine(url: str) -> AsyncEngine:
    """The import's connection, in this process and in each worker: one, with a long statement timeout, named
    for ``pg_stat_activity``."""
    from store.db import create_engine

    return create_engine(
        url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000, application_name=APPLICATION_NAME
    )


def _start_worker(context: _ChunkContext, command: int) -> None:
    import multiprocessing.util
    import signal

    global _worker  # the worker process's own state, set once by the pool's initializer
    _end_with(command)
    # A forked worker is a copy of the command's thread that was running its event loop. It leaves alone what it
    # inherited: the collector never looks at those objects (so no finalizer of a copied connection runs), the
    # copied loop is forgotten (as Python 3.12 does itself after a fork) and the worker opens a connection of
    # its own. Ctrl-C is the command's to handle: a worker finishes (and commits) the chunk it is writing, then
    # the pool stops it.
    tune_collector()
    asyncio.events._set_running_loop(None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = _engine(context.url)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker = (context, loop, engine)
    multiprocessing.util.Finalize(None, _stop_worker, exitpriority=10)
    loop.run_until_complete(_connect(engine))


_PR_SET_PDEATHSIG = 1  # prctl(2)
_PARENT_POLL_SECONDS = 1.0


def _end_with(command: int) -> None:
    """End this worker when the command that forked it ends, however it ends.

    A command killed outright (``kill -9``, the OOM killer) neither stops its pool nor closes the pipe its workers
    wait on for chunks (each worker holds that pipe's other end too): they would wait for ever, each holding a
    connection, under an init that reaps them only once they end. On Linux the kernel sends the worker SIGKILL
    when the thread that forked it ends: the command's main thread, which submits the pool's first task, and
    the pool forks every worker then. The chunk a worker is writing at that moment is rolled back with its
    connection, which loses nothing: the command that would have recorded the commit in the progress file is
    gone, and the re-run redoes that chunk. Elsewhere a thread checks, every second, that the command is still
    the worker's parent.
    """
    import signal
    import sys

    if sys.platform == "linux":
        import ctypes

        if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != command:  # the command ended before the signal was asked for
                os._exit(1)
            return
    import threading

    def watch() -> None:
        while os.getppid() == command:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-command", daemon=True).start()


def tune_collector() -> None:
    """The garbage collector settings of a worker process (bench.check_cost measures under the same)."""
    # A chunk allocates some hundred thousand objects, nearly none of them in cycles: with the default
    # thresholds the collector ran every 700 allocations and, now and then, walked every module loaded. The
    # modules are moved out of its sight and it runs every 50,000 allocations.
    gc.freeze()
    gc.set_threshold(*_WORKER_GC_THRESHOLDS)


async def _connect(engine: AsyncEngine) -> None:
    async with engine.connect():  # the pool keeps the connection for the first chunk
        pass


def _ready() -> None:
    """Nothing: submitted once so that the pool starts its workers at once, from the thread that submits it."""


def _stop_worker() -> None:
    if _worker is not None:
        _, loop, engine = _worker
        loop.run_until_complete(engine.dispose())
        loop.close()


def _land_in_worker(chunk: Chunk) -> _Landed:
    assert _worker is not None, "not a worker process"
    context, loop, engine = _worker
    return loop.run_until_complete(context.land(engine, chunk))


def _drain_in_worker() -> int:
    from store import pending

    assert _worker is not None, "not a worker process"
    context, loop, engine = _worker
    return loop.run_until_complete(pending.drain(engine, today=context.today))


# Unique violation (a chunk under way created the same subject or record first), deadlock, serialization failure.
_RETRIED_SQLSTATES = frozenset({"23505", "40P01", "40001"})
WRITE_ATTEMPTS = 5


async def _write(
    engine: AsyncEngine, prepared: _Prepared, *, pii: PiiCipher, actor: str
) -> tuple[int, int, list[RowError]]:
    """Write a checked chunk's rows in one transaction: (created, unchanged, the problems of the rows skipped).

    A transaction that fails on a unique key or a deadlock (a chunk written side by side got there first) is tried
    again from the start. Any other failure of the transaction, or of the connection, is the chunk's: it raises
    ``_ChunkRefused`` and nothing of the chunk is written.
    """
    from sqlalchemy.exc import DBAPIError

    from store import bulk

    if not prepared.rows:
        return 0, 0, []
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            async with engine.begin() as conn:
                outcome, skipped = await bulk.land_accepted_rows(conn, prepared.rows, actor=actor, pii=pii)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate in _RETRIED_SQLSTATES and attempt < WRITE_ATTEMPTS:
                await asyncio.sleep(0.02 * attempt)
                continue
            raise _ChunkRefused(_refusal("its transaction failed", exc.orig, sqlstate, attempt)) from exc
        except OSError as exc:  # the connection could not be made, or broke
            raise _ChunkRefused(_refusal("the connection to the database failed", exc, None, attempt)) from exc
        return outcome.created, outcome.unchanged, skipped
    raise AssertionError("unreachable")


def _refusal(what: str, error: BaseException | None, sqlstate: str | None, attempts: int) -> str:
    # The message's first line, without the error's detail: PostgreSQL puts the values of the row at fault there
    # (personal information, maybe).
    message = str(error).strip().partition("\n")[0] if error is not None else ""
    said = f": {message}" if message else ""
    code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    tries = f", {attempts} attempts" if attempts > 1 else ""
    return f"{REFUSED} {what}{said}{code}{tries}"


def _count(summary: ImportSummary, state: ProgressState, number: int, chunk: Chunk, landed: _Landed) -> None:
    """Take a chunk's outcome into the summary and the progress state."""
    summary.created += landed.created
    summary.unchanged += landed.unchanged
    summary.bad_rows += landed.bad_rows
    summary.rejected += landed.problems
    if landed.refused is None:
        state.last_committed_chunk = number
    else:
        refused = len(chunk) - landed.bad_rows
        summary.refused_rows += refused
        summary.refused_chunks.append(RefusedChunk(number, chunk.first, chunk.last, refused, landed.refused))
    if landed.problems and number not in state.rejected_chunks:
        state.rejected_chunks.append(number)


# --- The command -----------------------------------------------------------------------------------------------


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_lines(summary: ImportSummary) -> list[str]:
    """What the command prints on stderr once the import is over."""
    lines: list[str] = []
    if summary.stale_progress:
        lines.append("a progress file of another version of this file was ignored: imported from the start")
    if summary.resumed_after is not None:
        lines.append(
            f"resumed after chunk {summary.resumed_after} (chunks of {summary.chunk_size} rows, as in the interrupted "
            f"run): skipped {_n(summary.skipped_rows, 'row')} ({_n(summary.skipped_chunks, 'chunk')}) committed by "
            f"an earlier run"
        )
    rate = summary.processed_rows / summary.landed_seconds if summary.landed_seconds > 0 else 0.0
    lines.append(
        f"imported {summary.file.name}: {_n(summary.rows, 'row')} in {_n(summary.chunks, 'chunk')} of "
        f"{summary.chunk_size}: created {summary.created}, unchanged {summary.unchanged}, skipped "
        f"{_n(summary.bad_rows, 'bad row')}, refused {_n(summary.refused_rows, 'row')} with "
        f"{_n(len(summary.refused_chunks), 'chunk')} in {summary.landed_seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    lines.append(
        f"recomputed the grades and restrictions of {_n(summary.recomputed, 'subject')} in "
        f"{summary.seconds - summary.landed_seconds:.1f} s; done in {summary.seconds:.1f} s"
    )
    for chunk in summary.refused_chunks[:20]:
        lines.append(f"  chunk {chunk.number} (rows {chunk.first_row}-{chunk.last_row}): {chunk.reason}")
    if len(summary.refused_chunks) > 20:
        lines.append(f"  … and {_n(len(summary.refused_chunks) - 20, 'more refused chunk')}")
    problems = [r for r in summary.rejected if not r.reason.startswith(REFUSED)]  # the rows' own
    for r in problems[:10]:
        lines.append(f"  row {r.row}, {r.field or '(row)'}: {r.reason}")
    if len(problems) > 10:
        lines.append(f"  … and {_n(len(problems) - 10, 'more problem')}")
    if summary.rejected:
        lines.append(f"rejected rows: {summary.report}")
    return lines


def import_file(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV (.csv) or JSON lines (.jsonl, .ndjson)."),
    ],
    chunk: Annotated[int, typer.Option("--chunk", min=1, max=MAX_CHUNK, help="Rows per transaction.")] = 1000,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Where the rows not written go, with why (default: FILE.rejected.csv)."),
    ] = None,
    source_unit: Annotated[
        str | None,
        typer.Option(
            "--source-unit",
            help="Import for this source unit only: rows without sourceUnit get it, rows of another unit are rejected.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=32,
            help="Processes that check and write chunks side by side (default: one per CPU; 0: none).",
        ),
    ] = None,
) -> None:
    """Import credit records from CSV or JSON lines, in chunked transactions; resumable after an interruption.

    CSV: a header of RecordInput field names; subjectUscc or subjectIdNumber; details as JSON text.

    JSON lines (.jsonl, .ndjson): one RecordInput object a line, subject {"uscc": …} or {"idNumber": …}.

    A row that fails its checks is skipped and the rest of its chunk lands; a chunk is refused whole only when its
    transaction fails. Idempotent by (sourceUnit, decisionNumber). Exit status 1 when any row was not written (see
    --report); re-run the same command after an interruption to resume.
    """
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from api.cli_support import database, err, settings_from_env
    from store.db import bureau_today

    settings = settings_from_env()
    pii = settings.pii_cipher()
    today = bureau_today()
    try:
        file_format(file)
    except ImportFileError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None

    with (
        database(settings) as url,
        # Redrawn as the import advances rather than by a thread of its own: the import's worker processes are
        # forked from this one, and a fork copies no thread, only what locks a running one held.
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            auto_refresh=False,
        ) as progress,
    ):
        task = progress.add_task("importing", total=None)
        settling: list[TaskID] = []

        def settle_total(n: int) -> None:
            progress.update(task, description="imported")
            settling.append(progress.add_task("recomputing", total=n))
            progress.refresh()

        def advance(n: int, which: TaskID | None = None) -> None:
            progress.advance(task if which is None else which, n)
            progress.refresh()

        try:
            summary = asyncio.run(
                import_path(
                    url,
                    file,
                    pii=pii,
                    today=today,
                    chunk_size=chunk,
                    report=report,
                    source_unit=source_unit,
                    on_total=lambda n: progress.update(task, total=n, refresh=True),
                    on_rows=advance,
                    on_settle_total=settle_total,
                    on_settled=lambda n: advance(n, settling[0]),
                    workers=(os.cpu_count() or 1) if workers is None else workers,
                )
            )
        except ImportFileError as exc:
            progress.stop()
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: run the same command again to resume after the last committed chunk ({progress_path(file)})"
            )
            raise typer.Exit(130) from None
    for line in summary_lines(summary):
        err.print(escape(line), soft_wrap=True, highlight=False)
    if summary.rejected:
        raise typer.Exit(1)
