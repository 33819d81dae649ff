"""One API process against two on the same database: `python -m bench scale [--organizations N] ...`.

The population is the race's (bench.race_data): N organizations, about 1% on the wage-arrears list, graded and
restricted by `hrss-credit evaluate`, vacuumed and checkpointed. Two `hrss-credit serve` processes read it, each
on its own port. wrk sends the race's single restriction check (the same script and bodies as bench.race) in
interleaved rounds: all connections to one process, then the same connections split between the two processes by
two wrk runs at once, whose requests are summed. The ratio two/one says how far one process is from what the
machine gives: wrk, PostgreSQL and the API processes share its cores. Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.population import bench_server, fresh_database, load
from bench.race import Case, Run, _bodies, load_average, wrk_run
from bench.race_data import LISTED_SHARE, SECTOR, describe, drop_database, evaluate, execute_script, list_wage_arrears
from bench.race_servers import (
    OURS,
    Server,
    hrss_credit,
    libpq_url,
    memory,
    require_wrk,
    rss_kib,
    run_command,
)

DATABASE = "hrss_bench_scale"


def split(wrk: str, servers: Sequence[Server], case: Case, seconds: int) -> Run:
    """One wrk run a server, all at once, ``case.connections`` split evenly: requests summed, the worse p50/p99."""
    share = dataclasses.replace(case, connections=max(1, case.connections // len(servers)))
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = list(pool.map(lambda s: wrk_run(wrk, s, share, seconds), servers))
    return Run(
        requests_per_s=sum(r.requests_per_s for r in runs),
        p50_ms=max(r.p50_ms for r in runs),
        p99_ms=max(r.p99_ms for r in runs),
        failed=sum(r.failed for r in runs),
    )


def _median(runs: Sequence[Run]) -> Run:
    return Run(
        requests_per_s=statistics.median(r.requests_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        failed=sum(r.failed for r in runs),
    )


def _row(round_: str, one: Run, two: Run) -> str:
    ratio = two.requests_per_s / one.requests_per_s if one.requests_per_s else float("nan")
    return (
        f"{round_:>6}  {one.requests_per_s:>9.1f} {one.p50_ms:>8.1f} {one.p99_ms:>8.1f}"
        f"  {two.requests_per_s:>9.1f} {two.p50_ms:>8.1f} {two.p99_ms:>8.1f}  {ratio:>6.3f}{one.mark}{two.mark}"
    )


def rounds(wrk: str, servers: Sequence[Server], case: Case, args: argparse.Namespace) -> None:
    if args.warmup:  # not counted: caches, pools, prepared statements in every process
        wrk_run(wrk, servers[0], case, args.warmup)
        split(wrk, servers, case, args.warmup)
    print(
        f"\n{'round':>6}  {'one req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f"  {'two req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  {'ratio':>6}"
    )
    ones: list[Run] = []
    twos: list[Run] = []
    for n in range(1, args.rounds + 1):
        ones.append(wrk_run(wrk, servers[0], case, args.duration))
        twos.append(split(wrk, servers, case, args.duration))
        print(_row(str(n), ones[-1], twos[-1]), flush=True)
    print(_row("median", _median(ones), _median(twos)))
    print(
        f"one: c={case.connections} to one process; two: c={case.connections // len(servers)} to each of "
        f"{len(servers)} processes at once, req/s summed, p50/p99 the higher of the two; ratio: two req/s / one "
        "req/s; '!N failed': answers that were not a 200 with data"
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each configuration")
    parser.add_argument("--duration", type=int, default=10, help="seconds of one wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of the untimed first run of each configuration")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections, split over two processes")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the database {DATABASE} afterwards")
    args = parser.parse_args(argv)
    if args.organizations < 100 or args.rounds < 1 or not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--organizations >= 100, --rounds >= 1, 1 <= --duration <= 600, 0 <= --warmup <= 60")
    if not 2 <= args.connections <= 1024:
        parser.error("--connections between 2 and 1024")
    return args


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    run_command("scale", lambda workdir: run(args, workdir))


def run(args: argparse.Namespace, workdir: Path) -> None:
    wrk = require_wrk()
    with bench_server() as server, contextlib.ExitStack() as stack:
        url = fresh_database(server, DATABASE)
        if not args.keep_db:
            stack.callback(drop_database, server, DATABASE)
        codes = asyncio.run(load(url, args.organizations))
        asyncio.run(list_wage_arrears(url, LISTED_SHARE))
        evaluate(url)
        asyncio.run(execute_script(url, "VACUUM (ANALYZE)"))  # settled before timing, as the race does
        asyncio.run(execute_script(url, "CHECKPOINT"))
        population = asyncio.run(describe(url, codes))
        print(
            f"{len(codes):,} organizations: {population.listed:,} ({population.listed / len(codes):.2%}) with a "
            f"wage-arrears listing in force, {len(population.restricted):,} restricted in {SECTOR} today"
        )
        servers: list[Server] = []
        for n in (1, 2):  # one after the other: the first stores the signing key the second then reads
            (workdir / f"api-{n}").mkdir()
            started = stack.enter_context(hrss_credit(url, workdir / f"api-{n}"))
            servers.append(dataclasses.replace(started, name=f"api-{n}"))
        bodies = _bodies(workdir / "check.txt", OURS.check, "u", codes)
        case = Case(f"check c={args.connections}", args.connections, {s.name: bodies for s in servers})
        before = {s.name: rss_kib(s)[0] for s in servers}
        print(
            f"wrk: {args.rounds} rounds of {args.duration} s a configuration, interleaved (one, two, one, two, ...), "
            f"after {args.warmup} s untimed; the single check with a fresh procurement token a run"
        )
        print(load_average("before the rounds"))
        rounds(wrk, servers, case, args)
        print()
        print(load_average("after them"))
        for s in servers:
            print(memory(s, before[s.name]))
        if args.keep_db:
            print(f"kept the database {DATABASE} ({libpq_url(url)})")
        print(
            f"the machine has {os.cpu_count() or 1} cores shared by wrk, PostgreSQL and the API processes: the ratio says how "
            "far one process is from this machine's limit, not how a second machine would scale"
        )
