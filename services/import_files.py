"""Reading a bulk-import file: its format, its CSV header, its data rows, each row as a RecordInput-shaped mapping.

A CSV file is read as records (a quoted cell may hold line breaks) without splitting them into cells: the command
reads the file and the workers split the records (``csv_cells``). JSON lines are read as bytes, one row a line.
Rows go to the workers in ``Chunk``s of consecutive rows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from domain.records import RECORD_CONTENT, TYPED_DETAILS, FieldKind

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# A CSV row names its subject in two columns of its own instead of the nested ``subject`` object; the other
# columns are the fields of store.bulk.RECORD_FIELDS: the record's content but its JSON fields, the typed details,
# then the JSON fields.
CSV_SUBJECT_COLUMNS = {"subjectUscc": "uscc", "subjectIdNumber": "idNumber"}
CSV_COLUMNS = (
    *CSV_SUBJECT_COLUMNS,
    "subjectName",
    *(f.input for f in RECORD_CONTENT if f.kind is not FieldKind.JSON),
    *(t.field for t in TYPED_DETAILS),
    *(f.input for f in RECORD_CONTENT if f.kind is FieldKind.JSON),
)
CSV_BOOLEANS = frozenset(
    {*(f.input for f in RECORD_CONTENT if f.kind is FieldKind.BOOL), *(t.field for t in TYPED_DETAILS)}
)
CSV_JSON = frozenset(f.input for f in RECORD_CONTENT if f.kind is FieldKind.JSON)
# sourceUnit is required too, but --source-unit may give it instead of a column (``_csv_header``).
CSV_REQUIRED = tuple(f.input for f in RECORD_CONTENT if f.required and f.input != "sourceUnit")
_TRUE = frozenset({"true", "1", "yes", "y", "是"})
_FALSE = frozenset({"false", "0", "no", "n", "否"})


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unknown format, bad CSV header, not UTF-8)."""


class SourceRow(NamedTuple):
    """A data row as read. One is made for every row of the file: a named tuple is cheaper to make than a dataclass."""

    number: int  # the file row number: 1-based data line (CSV: the header excluded; JSON lines: the line)
    raw: bytes | str  # a JSON line, or a CSV record's text (a quoted cell may hold line breaks)


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
    missing = [c for c in CSV_REQUIRED if c not in header]
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
            elif column in CSV_BOOLEANS:
                word = cell.strip().lower()
                if word in _TRUE or word in _FALSE:
                    item[column] = word in _TRUE
                else:
                    problems.append((column, "must be true or false"))
            elif column in CSV_JSON:
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
    receives: two lists pickle much faster than as many SourceRow objects)."""

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
