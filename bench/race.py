"""hrss-credit against PostGraphile 5 on the same data: `python -m bench race [--organizations N] ...`.

One fresh database holds the population (bench.population) with about 1% of the organizations on the
wage-arrears list, graded and restricted by `hrss-credit evaluate`, as the app does it. Two servers read it:
`hrss-credit serve` as deployed (bearer tokens of the procurement client, the compiled authorization, the audit
log), and PostGraphile 5 with the amber preset on Node 22 over bench/postgraphile/schema.sql, a computed column and
a screening function over the same `restrictions` table. Before any timing both must give the same verdicts for a
sample of references; then wrk loads each in turn (ours, peer, ours, peer, ...) so that drift on the machine hits
both alike. Loopback only; every run is bounded by --duration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.population import bench_server, fresh_database, load, own_server
from bench.race_data import (
    LISTED_SHARE,
    SECTOR,
    check_verdicts,
    describe,
    drop_database,
    evaluate,
    execute_script,
    list_wage_arrears,
    verdict_sample,
)
from bench.race_servers import (
    HERE,
    PEER_DIR,
    RaceError,
    Server,
    hrss_credit,
    libpq_url,
    memory,
    postgraphile,
    require_peer,
    require_wrk,
    rss_kib,
    run_command,
)
from store.db import asyncpg_connect_kwargs

# bench.evaluate makes its population as the race does, through the names it imports from here.
__all__ = ["LISTED_SHARE", "drop_database", "list_wage_arrears", "main"]

DATABASE = "hrss_bench_race"
WRK_SCRIPT = HERE / "race.lua"
SCREEN_REFS = 1000
# The single checks draw from this many organizations at most, sampled across the whole register: wrk's Lua
# keeps every item in a table that its garbage collector walks, and with a million of them the client's own
# pauses became the p99 of either side.
CHECK_SAMPLE = 100_000


# --- load ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    connections: int
    bodies: dict[str, Path]  # by server name


def _bodies(path: Path, query: str, variable: str, items: Sequence[Any]) -> Path:
    """The file race.lua reads: the body's prefix, its suffix, then one JSON item a line."""
    prefix = f'{{"query": {json.dumps(query)}, "variables": {{"{variable}": '
    lines = [prefix, "}}", *(json.dumps(item, separators=(",", ":")) for item in items)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cases(servers: Sequence[Server], codes: Sequence[str], workdir: Path, *, seed: int = 17) -> list[Case]:
    """The single check of a random organization (of a random sample of at most CHECK_SAMPLE), and screens of the
    same 64 random batches on either side."""
    rng = random.Random(seed)
    batches = [rng.sample(codes, min(SCREEN_REFS, len(codes))) for _ in range(64)]
    checked = rng.sample(codes, min(CHECK_SAMPLE, len(codes)))
    check: dict[str, Path] = {}
    screen: dict[str, Path] = {}
    for n, server in enumerate(servers):
        d = server.dialect
        check[server.name] = _bodies(workdir / f"check-{n}.txt", d.check, "u", checked)
        screen[server.name] = _bodies(workdir / f"screen-{n}.txt", d.screen, "refs", [d.refs(b) for b in batches])
    return [Case("check c=32", 32, check), Case(f"screen {SCREEN_REFS} c=4", 4, screen)]


@dataclass(frozen=True, slots=True)
class Run:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers, socket errors, time-outs and 200s carrying GraphQL errors

    @property
    def mark(self) -> str:
        return f" !{self.failed} failed" if self.failed else ""


def wrk_run(wrk: str, server: Server, case: Case, seconds: int) -> Run:
    connections = case.connections
    token = server.token()
    command = [
        wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        server.graphql,
        "--",
        str(case.bodies[server.name]),
        *([token] if token else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=False)  # noqa: S603
    line = next((x for x in done.stdout.splitlines() if x.startswith("RACE ")), None)
    if done.returncode != 0 or line is None:
        raise RaceError(f"wrk failed ({done.returncode}):\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    figures = json.loads(line.removeprefix("RACE "))
    failed = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout", "graphql_errors"))
    return Run(
        requests_per_s=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        failed=failed,
    )


def _row(label: str, round_: str, ours: Run, peer: Run) -> str:
    ratio = ours.requests_per_s / peer.requests_per_s if peer.requests_per_s else float("nan")
    return (
        f"{label:<17} {round_:>6}  {ours.requests_per_s:>9.1f} {ours.p50_ms:>8.1f} {ours.p99_ms:>8.1f}"
        f"  {peer.requests_per_s:>9.1f} {peer.p50_ms:>8.1f} {peer.p99_ms:>8.1f}  {ratio:>6.3f}{ours.mark}{peer.mark}"
    )


def _median(runs: Sequence[Run]) -> Run:
    return Run(
        requests_per_s=statistics.median(r.requests_per_s for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        failed=sum(r.failed for r in runs),
    )


def race(
    wrk: str, ours: Server, peer: Server, all_cases: Sequence[Case], rounds: int, seconds: int, warmup: int
) -> None:
    print(
        f"\n{'case':<17} {'round':>6}  {'ours req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
        f"  {'peer req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  {'ratio':>6}"
    )
    medians: list[str] = []
    for case in all_cases:
        if warmup:
            for server in (ours, peer):  # not counted: caches, pools, the peer's JIT
                wrk_run(wrk, server, case, warmup)
        runs: dict[str, list[Run]] = {ours.name: [], peer.name: []}
        for n in range(1, rounds + 1):
            for server in (ours, peer):
                runs[server.name].append(wrk_run(wrk, server, case, seconds))
            print(_row(case.name, str(n), runs[ours.name][-1], runs[peer.name][-1]), flush=True)
        medians.append(_row(case.name, "median", _median(runs[ours.name]), _median(runs[peer.name])))
    print()
    print("\n".join(medians))
    print("ratio: ours req/s / peer req/s; '!N failed': answers that were not a 200 with data (see its log)")


def load_average(when: str) -> str:
    """wrk, PostgreSQL and both servers share the cores: anything else running slows the rounds it overlaps, both
    runs of a round alike for the most part, since they follow each other."""
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


# --- the command -----------------------------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench race", description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each side per case")
    parser.add_argument("--duration", type=int, default=10, help="seconds of one wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of the untimed first run of each side")
    parser.add_argument("--sample", type=int, default=500, help="refs whose verdicts must agree before timing")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the database {DATABASE} afterwards")
    parser.add_argument(
        "--shared-buffers",
        metavar="SIZE",
        help="race on a PostgreSQL of its own (started for the run, removed after it) with this shared_buffers "
        "(e.g. 2GB), sized to hold the register as a deployment would size it; default: BENCH_DATABASE_URL's server",
    )
    args = parser.parse_args(argv)
    if args.shared_buffers and args.keep_db:
        parser.error("--keep-db keeps nothing with --shared-buffers: the race's own server is removed at the end")
    if args.organizations < 100 or args.rounds < 1 or not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--organizations >= 100, --rounds >= 1, 1 <= --duration <= 600, 0 <= --warmup <= 60")
    if not 10 <= args.sample <= SCREEN_REFS:
        parser.error(f"--sample between 10 and {SCREEN_REFS} (it is screened in one call)")
    return args


async def database_size(url: str) -> str:
    conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        size: str = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return size
    finally:
        await conn.close()


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    run_command("race", lambda workdir: run(args, workdir))


def run(args: argparse.Namespace, workdir: Path) -> None:
    wrk = require_wrk()
    require_peer()
    with contextlib.ExitStack() as stack:
        if args.shared_buffers:
            settings = {"shared_buffers": args.shared_buffers, "max_connections": "200"}
            server = stack.enter_context(own_server(workdir / "postgres", settings))
            print(f"a PostgreSQL of the race's own, shared_buffers = {args.shared_buffers}")
        else:
            server = stack.enter_context(bench_server())
        url = fresh_database(server, DATABASE)
        if not args.keep_db:
            stack.callback(drop_database, server, DATABASE)

        codes = asyncio.run(load(url, args.organizations))
        asyncio.run(list_wage_arrears(url, LISTED_SHARE))
        evaluate(url)
        asyncio.run(execute_script(url, (PEER_DIR / "schema.sql").read_text(encoding="utf-8")))
        # Settled before timing: vacuumed (hint bits and visibility map set, statistics fresh) and checkpointed,
        # so that neither side's rounds meet the load's background writes, whatever the server's autovacuum.
        asyncio.run(execute_script(url, "VACUUM (ANALYZE)"))
        asyncio.run(execute_script(url, "CHECKPOINT"))
        population = asyncio.run(describe(url, codes))
        print(f"database size {asyncio.run(database_size(url))}")
        print(
            f"{len(codes):,} organizations: {population.listed:,} ({population.listed / len(codes):.2%}) with a "
            f"wage-arrears listing in force, {len(population.restricted):,} restricted in {SECTOR} today"
        )

        ours = stack.enter_context(hrss_credit(url, workdir))
        peer = stack.enter_context(postgraphile(url, workdir))
        refs = verdict_sample(population, args.sample)
        found, restricted = check_verdicts(ours, peer, refs)
        print(
            f"verdicts agree on {len(refs)} refs, single check and screen on both sides "
            f"({found} found, {restricted} restricted, {len(refs) - found} unknown)"
        )

        before = {side.name: rss_kib(side)[0] for side in (ours, peer)}
        all_cases = cases((ours, peer), codes, workdir)
        print(
            f"wrk: {args.rounds} rounds of {args.duration} s a side and case, interleaved, after {args.warmup} s "
            f"untimed; ours with a fresh procurement token a run, peer without authentication"
        )
        print(load_average("before the rounds"))
        race(wrk, ours, peer, all_cases, args.rounds, args.duration, args.warmup)
        print()
        print(load_average("after them"))
        for side in (ours, peer):
            print(memory(side, before[side.name]))
        if args.keep_db:
            print(f"kept the database {DATABASE} ({libpq_url(url)})")
