"""What checking an imported row costs in Python: ``prepare_chunk`` (parsing a JSON line, the
identifier checks, the record rules, the content and digest), without any database.

    python -m bench.check_cost [ROWS]            # µs a row (best of 5; wall time, so as noisy as the machine)
    valgrind --tool=callgrind python -m bench.check_cost ROWS --once   # instructions, repeatable

With ``--once`` the first ROWS rows of the same 10,000-row file are checked once after a warm-up of 100: run it
with ROWS and with 0 and divide the difference of the two instruction counts by ROWS.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.imports import write_file
from domain.identifiers import make_uscc
from services.import_chunks import prepare_chunk
from services.import_files import chunks, read_rows
from services.import_workers import tune_collector

TODAY = date(2026, 11, 21)
FILE_ROWS = 10_000


def main(rows: int, once: bool) -> None:
    existing = [make_uscc("9", "1", "310115", f"P{i:07d}") for i in range(1000)]
    with tempfile.TemporaryDirectory(prefix="hrss-check-cost-") as directory:
        file = Path(directory) / "records.jsonl"
        write_file(file, rows=max(rows, FILE_ROWS), existing=existing, today=TODAY)  # the same file for any ROWS
        source = list(read_rows(file, "jsonl"))
    batches = list(chunks(iter(source[:rows]), 1000))
    tune_collector()  # as a worker process does
    prepare_chunk(next(chunks(iter(source[:100]), 100)), [], today=TODAY, source_unit=None)
    if once:
        for batch in batches:
            prepare_chunk(batch, [], today=TODAY, source_unit=None)
        return
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for batch in batches:
            assert not prepare_chunk(batch, [], today=TODAY, source_unit=None).problems
        best = min(best, time.perf_counter() - started)
    print(f"prepare_chunk: {best / rows * 1e6:.1f} µs a row ({rows:,} rows, best of 5)")


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--once"]
    main(int(arguments[0]) if arguments else 10_000, "--once" in sys.argv)
