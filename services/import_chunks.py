"""Checking and writing one chunk of a bulk import: the rows that pass their checks land in one transaction.

A row is checked exactly as the ``importRecords`` mutation checks a row (``store.bulk.build_rows``) and the rows
that pass are written together (``store.bulk.land_accepted_rows``: the records, their outbox events and their
subjects queued for recomputation). A row that fails its own checks is skipped and the others are written; a
chunk is refused whole only for a failure that is no one row's (``ChunkRefused``). This runs in the command's
process or in a worker process (services/import_workers.py), on the connection of the engine it is given.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from services.import_files import Chunk, parse_row
from store import bulk

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from store.imports import ImportRow, RowError
    from store.pii import PiiCipher

REFUSED = "its chunk was refused because"  # how the report's reason begins for a row of a chunk refused whole


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A line of the report: a row not written, the field at fault (None: the whole row) and why."""

    row: int
    field: str | None
    reason: str


def report_order(line: RejectedRow) -> int:
    """The report's order: by file row (a stable sort keeps a row's lines in the order they were found)."""
    return line.row


@dataclass
class Prepared:
    rows: list[ImportRow]  # the rows that passed their checks, each indexed by its file row number
    problems: list[RejectedRow]  # those of the other rows, in file order


def prepare_chunk(chunk: Chunk, header: list[str], *, today: date, source_unit: str | None) -> Prepared:
    """Read and check one chunk's rows (no database): the rows that pass, and the problems of the others."""
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
    problems.sort(key=report_order)  # stable: a row's problems keep their order
    return Prepared(rows, problems)


class ChunkRefused(Exception):
    """A failure of a chunk's transaction that is no one row's; ``reason`` is the report's."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Landed:
    """What became of a chunk: the rows written (created or unchanged), the report's lines of the others, how many
    rows were skipped for their own problems, and why the chunk was refused, if it was (nothing of it written)."""

    created: int
    unchanged: int
    problems: list[RejectedRow]
    bad_rows: int
    refused: str | None = None


@dataclass(frozen=True)
class ChunkContext:
    """Everything checking and writing a chunk needs besides the chunk; sent once to each worker process."""

    url: str
    header: list[str]
    today: date
    source_unit: str | None
    pii: PiiCipher
    actor: str

    async def land(self, engine: AsyncEngine, chunk: Chunk) -> Landed:
        prepared = prepare_chunk(chunk, self.header, today=self.today, source_unit=self.source_unit)
        try:
            created, unchanged, skipped = await write_chunk(engine, prepared, pii=self.pii, actor=self.actor)
        except ChunkRefused as refused:
            bad = len({p.row for p in prepared.problems})
            lines = [*prepared.problems, *(RejectedRow(n, None, refused.reason) for n in chunk.numbers)]
            lines.sort(key=report_order)  # stable: a bad row's own problems come before its chunk's
            return Landed(0, 0, lines, bad, refused.reason)
        problems = prepared.problems
        if skipped:
            problems = sorted(
                [*problems, *(RejectedRow(e.index, e.field, e.message) for e in skipped)], key=report_order
            )
        return Landed(created, unchanged, problems, len({p.row for p in problems}))


# Unique violation (a chunk under way created the same subject or record first), deadlock, serialization failure.
_RETRIED_SQLSTATES = frozenset({"23505", "40P01", "40001"})
WRITE_ATTEMPTS = 5


async def write_chunk(
    engine: AsyncEngine, prepared: Prepared, *, pii: PiiCipher, actor: str
) -> tuple[int, int, list[RowError]]:
    """Write a checked chunk's rows in one transaction: (created, unchanged, the problems of the rows skipped).

    A transaction that fails on a unique key or a deadlock (a chunk written side by side got there first) is tried
    again from the start. Any other failure of the transaction, or of the connection, is the chunk's: it raises
    ``ChunkRefused`` and nothing of the chunk is written.
    """
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
            raise ChunkRefused(_refusal("its transaction failed", exc.orig, sqlstate, attempt)) from exc
        except OSError as exc:  # the connection could not be made, or broke
            raise ChunkRefused(_refusal("the connection to the database failed", exc, None, attempt)) from exc
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
