"""The yearly evaluation as deployed: `python -m bench evaluate [--organizations N] [--batch B] [--lanes L]`.

A fresh database (``DATABASE``) holds N organizations and their records (bench.population), with about 1% of the
organizations holding a wage-arrears listing within its term (bench.race.list_wage_arrears), as the race has them.
``hrss-credit evaluate`` runs on it twice, each time in a process of its own as an operator runs it: the first run
grades every organization and writes its restrictions, the second finds nothing to change. Both wall times are
printed (the command's start-up included) with the organizations a second, and the database is dropped.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.population import TODAY, fresh_database, load
from bench.race import LISTED_SHARE, drop_database, list_wage_arrears
from domain.workdays import WorkCalendar
from store import evaluation, evaluation_batches, holidays
from store.db import create_engine

DATABASE = "hrss_eval_bench"
_SUMMARY = re.compile(r"grades changed for (\d+), restrictions for (\d+)")


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    grades_changed: int
    restrictions_changed: int


def run_command(url: str, *, batch: int, lanes: int) -> Run:
    """One `hrss-credit evaluate` of the database at ``url``, timed from the command's start to its exit."""
    cli = Path(sys.executable).parent / "hrss-credit"
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [str(cli), "evaluate", "--batch", str(batch), "--lanes", str(lanes)],
        env={**os.environ, "DATABASE_URL": url, "HRSS_LOG_LEVEL": "WARNING", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hrss-credit evaluate failed:\n{done.stderr[-2000:]}")
    found = _SUMMARY.search(done.stderr)
    if found is None:
        raise SystemExit(f"hrss-credit evaluate printed no summary:\n{done.stderr[-2000:]}")
    return Run(seconds, int(found.group(1)), int(found.group(2)))


def bench_evaluate(server: str, organizations: int, *, batch: int, lanes: int) -> None:
    url = fresh_database(server, DATABASE)
    try:
        asyncio.run(load(url, organizations))
        listed = asyncio.run(list_wage_arrears(url, LISTED_SHARE))
        print(f"{organizations:,} organizations, {listed:,} with a wage-arrears listing within its term")
        for label in ("first run", "second run (nothing to change)"):
            run = run_command(url, batch=batch, lanes=lanes)
            print(
                f"hrss-credit evaluate --batch {batch} --lanes {lanes}, {label}: {run.seconds:.1f} s "
                f"({organizations / run.seconds:,.0f} organizations/s); grades changed for {run.grades_changed:,}, "
                f"restrictions for {run.restrictions_changed:,}"
            )
        if run.grades_changed or run.restrictions_changed:
            raise SystemExit("the second run changed something: the evaluation is not idempotent")
    finally:
        drop_database(server, DATABASE)


async def grade(url: str, *, batch: int) -> None:
    """Grades and restrictions for the benchmarks that read them (screen, authz), as the command writes them."""
    engine = create_engine(url, pool_size=evaluation_batches.EVALUATION_LANES, statement_timeout_ms=600_000)
    try:
        async with engine.connect() as conn:
            ids = await evaluation.all_subject_ids(conn)
            calendar = WorkCalendar(await holidays.load_table(conn))
        started = time.perf_counter()
        await evaluation_batches.evaluate_all(engine, ids, calendar=calendar, today=TODAY, batch=batch)
        print(f"graded {len(ids):,} organizations in {time.perf_counter() - started:.1f} s")
    finally:
        await engine.dispose()
