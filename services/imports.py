"""The bulk import of credit records from a CSV or JSON lines file (``hrss-credit import FILE``).

The file is read in chunks of rows (services/import_files.py); each row is checked exactly as the
``importRecords`` mutation checks a row and each chunk is written in its own transaction
(services/import_chunks.py). Unlike the other use cases, this one commits: a file of a million rows cannot be
one transaction, and a chunk committed stays committed whatever becomes of the rest of the file. Unlike the
mutation, which writes a batch whole or not at all, a file import skips a row that fails its own checks (a bad
field or identifier, an unknown subject without subjectName, a decision number recorded before with other
content) and writes the other rows of its chunk: one bad row in a large file must not hold back the good rows
around it. A chunk is refused whole only for a failure that is no one row's (its transaction fails in the
database, or the connection does): then nothing of it is written and every row of it goes to the report, "its
chunk was refused because …". Worker processes check and write chunks side by side, each on its own connection
(services/import_workers.py); their outcomes are taken in file order, and a worker ends with the command, even
one killed outright. Once every chunk has landed they recompute the queued grades and restrictions together
(``store.pending.drain``; a reader meanwhile recomputes what it reads). The report (file row number, field,
reason) is a CSV file; ``ImportSummary`` counts the rows created, unchanged, skipped and refused.

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

import csv
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from domain.workdays import WorkCalendar
from services.import_chunks import ChunkContext, Landed, RejectedRow
from services.import_files import Chunk, chunks, count_rows, file_format, read_header, read_rows
from services.import_workers import Lander, import_engine
from store import holidays, pending

if TYPE_CHECKING:
    from store.pii import PiiCipher

HEAD_BYTES = 64 * 1024
ACTOR = "cli:import"
REPORT_COLUMNS = ("row", "field", "reason")


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
    started = time.perf_counter()
    fmt = file_format(file)
    source_unit = source_unit.strip() if source_unit and source_unit.strip() else None
    summary = ImportSummary(file, report or default_report_path(file), chunk_size)
    header = read_header(file, fmt, source_unit=source_unit)  # a bad header fails before anything is written
    summary.rows = count_rows(file, fmt)  # so does a file that cannot be read to its end
    state, state_path = _resume(file, summary)
    if on_total:
        on_total(summary.rows)
    engine = import_engine(url)
    context = ChunkContext(url, header, today, source_unit, pii, actor)
    parallel = workers > 0 and summary.rows > summary.chunk_size
    try:
        with Lander(engine, context, workers if parallel else 0) as lander:
            async with engine.connect() as conn:
                calendar = WorkCalendar(await holidays.load_table(conn))
            source = chunks(read_rows(file, fmt), summary.chunk_size)
            await _land_chunks(lander, source, summary, state, state_path, on_rows=on_rows, after_chunk=after_chunk)
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


def _resume(file: Path, summary: ImportSummary) -> tuple[ProgressState, Path]:
    """The progress state the import goes on from, saved, and its file: an earlier run's of this very file (in
    that run's chunk size: its chunk numbers only mean something in it), or a new one."""
    state_path = progress_path(file)
    fingerprint = Fingerprint.of(file)
    state = ProgressState.load(state_path) if state_path.exists() else None
    if state is not None and state.fingerprint != fingerprint:
        summary.stale_progress = True
        state = None
    if state is not None:
        summary.chunk_size = state.chunk_size
        if state.last_committed_chunk:
            summary.resumed_after = state.last_committed_chunk
    else:
        state = ProgressState(fingerprint, summary.chunk_size)
    state.save(state_path)
    return state, state_path


async def _land_chunks(
    lander: Lander,
    source: Iterator[Chunk],
    summary: ImportSummary,
    state: ProgressState,
    state_path: Path,
    *,
    on_rows: Callable[[int], None] | None,
    after_chunk: Callable[[int], None] | None,
) -> None:
    """Land every chunk not committed whole by an earlier run, recording each outcome as it comes, in file order."""
    async for number, chunk, landed in lander.land(source, skip=state.done):
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


def _count(summary: ImportSummary, state: ProgressState, number: int, chunk: Chunk, landed: Landed) -> None:
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
