"""``hrss-credit import FILE``: bulk import of credit records from CSV or JSON lines (services/imports.py).

The command parses its options, runs the import with a progress bar on stderr, prints the summary there and maps
the outcome to the exit status: 0 when every row was written, 1 when any row is in the report (FILE.rejected.csv
unless --report says otherwise), 2 when the file as a whole cannot be imported, 130 when interrupted (Ctrl-C:
the chunks being written commit, and the same command resumes after the last one). The use cases are imported
only when the command runs: every ``hrss-credit`` command imports this module (api/cli.py).
"""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_support import database, err, settings_from_env

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from services.imports import ImportSummary
    from store.pii import PiiCipher

MAX_CHUNK = 10_000


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def summary_lines(summary: ImportSummary) -> list[str]:
    """What the command prints on stderr once the import is over."""
    from services.import_chunks import REFUSED

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

    summary = _run(
        file,
        chunk_size=chunk,
        report=report,
        source_unit=source_unit,
        workers=(os.cpu_count() or 1) if workers is None else workers,
    )
    for line in summary_lines(summary):
        err.print(escape(line), soft_wrap=True, highlight=False)
    if summary.rejected:
        raise typer.Exit(1)


def _run(file: Path, *, chunk_size: int, report: Path | None, source_unit: str | None, workers: int) -> ImportSummary:
    """The import of ``file`` into the configured database, as the command's options ask."""
    from rich.markup import escape

    from services.import_files import ImportFileError, file_format
    from store.db import bureau_today

    settings = settings_from_env()
    pii = settings.pii_cipher()
    today = bureau_today()
    try:
        file_format(file)
    except ImportFileError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    with database(settings) as url:
        return _import_with_progress(
            url,
            file,
            pii=pii,
            today=today,
            chunk_size=chunk_size,
            report=report,
            source_unit=source_unit,
            workers=workers,
        )


def _import_with_progress(
    url: str,
    file: Path,
    *,
    pii: PiiCipher,
    today: date,
    chunk_size: int,
    report: Path | None,
    source_unit: str | None,
    workers: int,
) -> ImportSummary:
    """Run the import with its progress on stderr: the rows landed, then the subjects recomputed."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from services.import_files import ImportFileError
    from services.imports import import_path, progress_path

    # Redrawn as the import advances rather than by a thread of its own: the import's worker processes are
    # forked from this one, and a fork copies no thread, only what locks a running one held.
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        auto_refresh=False,
    ) as progress:
        bars = _Bars(progress)
        try:
            return asyncio.run(
                import_path(
                    url,
                    file,
                    pii=pii,
                    today=today,
                    chunk_size=chunk_size,
                    report=report,
                    source_unit=source_unit,
                    on_total=bars.total,
                    on_rows=bars.rows,
                    on_settle_total=bars.settle_total,
                    on_settled=bars.settled,
                    workers=workers,
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


class _Bars:
    """The import's two progress bars: the rows landed, then the subjects recomputed (added once it is known how
    many there are)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._importing = progress.add_task("importing", total=None)
        self._recomputing: TaskID | None = None

    def total(self, n: int) -> None:
        self._progress.update(self._importing, total=n, refresh=True)

    def rows(self, n: int) -> None:
        self._progress.advance(self._importing, n)
        self._progress.refresh()

    def settle_total(self, n: int) -> None:
        self._progress.update(self._importing, description="imported")
        self._recomputing = self._progress.add_task("recomputing", total=n)
        self._progress.refresh()

    def settled(self, n: int) -> None:
        assert self._recomputing is not None, "settled before settle_total"
        self._progress.advance(self._recomputing, n)
        self._progress.refresh()
