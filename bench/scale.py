"""One API process against two on the same database, and with `--replica` the same reading from a streaming
replica: `python -m bench scale [--organizations N] [--replica] ...`.

The population is the race's (bench.race_data): N organizations, about 1% on the wage-arrears list, graded and
restricted by `hrss-credit evaluate`, vacuumed and checkpointed. Two `hrss-credit serve` processes read it, each
on its own port. wrk sends the race's single restriction check (the same script and bodies as bench.race) in
interleaved rounds: all connections to one process, then the same connections split between the two processes by
two wrk runs at once, whose requests are summed. The ratio two/one says how far one process is from what the
machine gives: wrk, PostgreSQL and the API processes share its cores. With ``--replica`` the database is a primary
with a hot standby streaming from it, both started for the run (tests/pg_cluster.py), and two more configurations
join the rounds: one process and two reading from the standby (HRSS_READ_DATABASE_URLS), their entries still
written on the primary. Loopback only; every run is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

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
from tests.pg_cluster import PgCluster, streaming_pair

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


@dataclasses.dataclass(frozen=True)
class Setup:
    """A configuration of the rounds: its label, the processes wrk splits its connections over."""

    label: str
    servers: Sequence[Server]
    reads: str = ""  # where the processes read, when not the primary alone


def measure(wrk: str, setup: Setup, case: Case, seconds: int) -> Run:
    if len(setup.servers) == 1:
        return wrk_run(wrk, setup.servers[0], case, seconds)
    return split(wrk, setup.servers, case, seconds)


def _row(round_: str, runs: Sequence[Run]) -> str:
    cells = [f"{r.requests_per_s:>9.1f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f}" for r in runs]
    first = runs[0].requests_per_s
    ratios = [f"{r.requests_per_s / first:>6.3f}" if first else "   nan" for r in runs[1:]]
    marks = "".join(r.mark for r in runs)
    return f"{round_:>6}  " + "  ".join(cells) + "  " + " ".join(ratios) + marks


def rounds(wrk: str, setups: Sequence[Setup], case: Case, args: argparse.Namespace) -> None:
    if args.warmup:  # not counted: caches, pools, prepared statements in every process
        for setup in setups:
            measure(wrk, setup, case, args.warmup)
    heads = "  ".join(f"{s.label + ' req/s':>9} {'p50':>7} {'p99':>7}" for s in setups)
    ratio_heads = " ".join(f"{s.label + '/' + setups[0].label:>6}" for s in setups[1:])
    print(f"\n{'round':>6}  {heads}  {ratio_heads}")
    runs: list[list[Run]] = [[] for _ in setups]
    for n in range(1, args.rounds + 1):
        for i, setup in enumerate(setups):
            runs[i].append(measure(wrk, setup, case, args.duration))
        print(_row(str(n), [r[-1] for r in runs]), flush=True)
    print(_row("median", [_median(r) for r in runs]))
    for setup in setups:
        share = case.connections // len(setup.servers)
        print(f"{setup.label}: c={share} to each of {len(setup.servers)} process(es) at once{setup.reads}")
    print(
        "req/s summed over the processes, p50/p99 (ms) the higher of them; ratios: req/s over the first "
        "configuration's; '!N failed': answers that were not a 200 with data"
    )


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each configuration")
    parser.add_argument("--duration", type=int, default=10, help="seconds of one wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of the untimed first run of each configuration")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections, split over two processes")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the database {DATABASE} afterwards")
    parser.add_argument(
        "--replica",
        action="store_true",
        help="on a primary and a streaming replica of their own (tests/pg_cluster.py), and the same rounds again with "
        "the processes reading from the replica",
    )
    args = parser.parse_args(argv)
    if args.replica and args.keep_db:
        parser.error("--keep-db keeps nothing with --replica: its servers are removed at the end")
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
    with contextlib.ExitStack() as stack:
        standby: PgCluster | None = None
        if args.replica:
            primary, standby = stack.enter_context(streaming_pair(workdir / "pair"))
            server = primary.url
            print(
                f"a primary and a streaming hot standby of their own, started for this run ({primary.url}, {standby.url})"
            )
        else:
            server = stack.enter_context(bench_server())
        url = fresh_database(server, DATABASE)
        if not args.keep_db and standby is None:
            stack.callback(drop_database, server, DATABASE)
        codes = populate(url, args.organizations)
        if standby is not None:
            standby.wait_for_replay(primary.current_lsn(), timeout=600)
        setups = [
            Setup("one", start(stack, url, workdir, ["1"])),
            Setup("two", start(stack, url, workdir, ["2a", "2b"])),
        ]
        if standby is not None:
            routed = {"HRSS_READ_DATABASE_URLS": json.dumps([standby.url_for(DATABASE)])}
            reads = ", reading from the replica"
            setups.append(Setup("one+r", start(stack, url, workdir, ["1r"], routed), reads))
            setups.append(Setup("two+r", start(stack, url, workdir, ["2ra", "2rb"], routed), reads))
        servers = [s for setup in setups for s in setup.servers]
        bodies = _bodies(workdir / "check.txt", OURS.check, "u", codes)
        case = Case(f"check c={args.connections}", args.connections, {s.name: bodies for s in servers})
        before = {s.name: rss_kib(s)[0] for s in servers}
        print(
            f"wrk: {args.rounds} rounds of {args.duration} s a configuration, interleaved "
            f"({', '.join(s.label for s in setups)}, ...), after {args.warmup} s untimed; the single check with a "
            "fresh procurement token a run"
        )
        print(load_average("before the rounds"))
        rounds(wrk, setups, case, args)
        print()
        print(load_average("after them"))
        for s in servers:
            print(memory(s, before[s.name]))
        for setup in setups[2:]:
            for s in setup.servers:
                print(f"{s.name}: {replica_reads(s)}")
        if args.keep_db:
            print(f"kept the database {DATABASE} ({libpq_url(url)})")
        print(
            f"the machine has {os.cpu_count() or 1} cores shared by wrk, PostgreSQL (and the replica) and the API "
            "processes: the ratios say how far one process is from this machine's limit, not how a second machine "
            "would scale"
        )


def populate(url: str, organizations: int) -> list[str]:
    """The race's population, evaluated, vacuumed and checkpointed; its USCCs."""
    codes = asyncio.run(load(url, organizations))
    asyncio.run(list_wage_arrears(url, LISTED_SHARE))
    evaluate(url)
    asyncio.run(execute_script(url, "VACUUM (ANALYZE)"))  # settled before timing, as the race does
    asyncio.run(execute_script(url, "CHECKPOINT"))
    population = asyncio.run(describe(url, codes))
    print(
        f"{len(codes):,} organizations: {population.listed:,} ({population.listed / len(codes):.2%}) with a "
        f"wage-arrears listing in force, {len(population.restricted):,} restricted in {SECTOR} today"
    )
    return codes


def start(
    stack: contextlib.ExitStack, url: str, workdir: Path, names: Sequence[str], env: dict[str, str] | None = None
) -> list[Server]:
    """API processes, one after the other: the first stores the signing key the others then read."""
    servers = []
    for name in names:
        (workdir / f"api-{name}").mkdir()
        started = stack.enter_context(hrss_credit(url, workdir / f"api-{name}", env=env))
        servers.append(dataclasses.replace(started, name=f"api-{name}"))
    return servers


def replica_reads(server: Server) -> str:
    """What the process's /metrics say of its replica: the reads it answered, and those that went to the primary."""
    text = httpx.get(server.base + "/metrics", timeout=5).text
    found = {
        line.split("{")[0].split(" ")[0]: line.rsplit(" ", 1)[1]
        for line in text.splitlines()
        if line.startswith(("hrss_replica_reads_total", "hrss_reads_to_primary_total", "hrss_replica_lag_seconds"))
    }
    return ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "no replica metrics"
