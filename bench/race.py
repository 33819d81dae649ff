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
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.population import bench_server, fresh_database, load
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
)
from domain.identifiers import make_uscc
from domain.periods import add_years
from domain.publicity import LISTING_YEARS
from domain.taxonomy import CATEGORY_OF, TITLE_ZH, RecordType
from store.db import bureau_today, create_engine
from store.records import content_digest
from store.tables import credit_records, recompute_queue, restrictions, subjects

DATABASE = "hrss_bench_race"
WRK_SCRIPT = HERE / "race.lua"
SECTOR = "GOVERNMENT_PROCUREMENT"
SCREEN_REFS = 1000
LISTED_SHARE = 0.01


# A verdict as both sides can state it: found, restricted, and the periods of the restrictions in force.
Verdict = tuple[bool, bool, tuple[tuple[str, str, str | None], ...]]


# --- the database ----------------------------------------------------------------------------------------------


async def _execute(url: str, script: str) -> None:
    """Run a script of several statements outside a transaction (DROP DATABASE must be), through the driver."""
    engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            if driver is None:
                raise RaceError("no driver connection to run the script on")
            await driver.execute(script)
    finally:
        await engine.dispose()


def drop_database(server: str, name: str) -> None:
    asyncio.run(_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def list_wage_arrears(url: str, share: float, *, seed: int = 11) -> int:
    """Put organizations on the wage-arrears list until ``share`` of them have a listing within its term.

    The population gives a listing to 1% of the organizations but decides it any time in the last five years or
    so, and a listing lasts three years (MOHRSS 45): more are listed here, decided within the term, so that about
    ``share`` of the checks answer restricted. Returns how many organizations hold a listing within its term.
    """
    rng = random.Random(seed)
    today = bureau_today()
    term_start = add_years(today, -LISTING_YEARS)
    engine = create_engine(url, pool_size=1, statement_timeout_ms=600_000)
    try:
        async with engine.begin() as conn:
            organizations = list(
                (
                    await conn.execute(
                        sa.select(subjects.c.id).where(subjects.c.kind == "ORGANIZATION").order_by(subjects.c.id)
                    )
                ).scalars()
            )
            c = credit_records.c
            listed = set(
                (
                    await conn.execute(
                        sa.select(c.subject_id)
                        .distinct()
                        .where(c.type == RecordType.WAGE_ARREARS_BLACKLIST.value, c.decided_on > term_start)
                    )
                ).scalars()
            )
            wanted = round(len(organizations) * share) - len(listed)
            chosen = rng.sample([i for i in organizations if i not in listed], max(0, wanted))
            rows = [
                _listing(subject_id, n, today - timedelta(days=rng.randint(1, 1000)))
                for n, subject_id in enumerate(chosen)
            ]
            for start in range(0, len(rows), 5000):
                await conn.execute(credit_records.insert(), rows[start : start + 5000])
    finally:
        await engine.dispose()
    return len(listed) + len(chosen)


def _listing(subject_id: int, n: int, decided: date) -> dict[str, Any]:
    """A wage-arrears listing (列入拖欠农民工工资失信联合惩戒对象名单) as bench.population writes its records."""
    type_ = RecordType.WAGE_ARREARS_BLACKLIST
    content: dict[str, Any] = {
        "type": type_.value,
        "category": CATEGORY_OF[type_].value,
        "severity": "SERIOUS",
        "title": TITLE_ZH[type_],
        "decision_number": f"基准名单〔{decided.year}〕{n}号",
        "source_unit": "上海市人力资源和社会保障局执法总队",
        "legal_basis": "《保障农民工工资支付条例》第四十八条",
        "occurred_on": None,
        "decided_on": decided,
        "publicity_until": None,
        "penalty_fulfilled": None,
        "corrected_on": None,
        "details": {},
    }
    return {**content, "subject_id": subject_id, "content_digest": content_digest(content), "created_by": "bench"}


def evaluate(url: str) -> None:
    """Grades and restrictions as a deployment materializes them: the `hrss-credit evaluate` command."""
    cli = Path(sys.executable).parent / "hrss-credit"
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [str(cli), "evaluate"],
        env={**os.environ, "DATABASE_URL": url, "HRSS_LOG_LEVEL": "WARNING", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RaceError(f"hrss-credit evaluate failed:\n{done.stderr[-2000:]}")
    summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "evaluated"
    print(f"{summary} ({time.perf_counter() - started:.0f} s)")


@dataclass(frozen=True, slots=True)
class Population:
    codes: list[str]
    restricted: list[str]  # restricted in SECTOR today, by the restrictions table
    listed: int  # organizations with a wage-arrears listing in force


async def describe(url: str, codes: list[str]) -> Population:
    """What the two servers will read, straight from the tables, and a guard that nothing waits to be settled."""
    today = bureau_today()
    x = restrictions.c
    in_force = sa.and_(x.superseded_at.is_(None), x.since <= today, sa.or_(x.until.is_(None), x.until >= today))
    engine = create_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=600_000)
    try:
        async with engine.connect() as conn:
            restricted = (
                await conn.execute(
                    sa.select(subjects.c.uscc)
                    .distinct()
                    .join(restrictions, restrictions.c.subject_id == subjects.c.id)
                    .where(x.sector == SECTOR, in_force)
                    .order_by(subjects.c.uscc)
                )
            ).scalars()
            codes_restricted = [str(c) for c in restricted]
            listed = await conn.scalar(
                sa.select(sa.func.count(sa.distinct(x.subject_id)))
                .join(credit_records, credit_records.c.id == x.source_record_id)
                .where(credit_records.c.type == RecordType.WAGE_ARREARS_BLACKLIST.value, in_force)
            )
            queued = await conn.scalar(sa.select(sa.func.count()).select_from(recompute_queue))
    finally:
        await engine.dispose()
    if queued:
        raise RaceError(f"{queued} subjects wait in the recompute queue: PostGraphile would read stale restrictions")
    return Population(codes=codes, restricted=codes_restricted, listed=int(listed or 0))


# --- verdicts --------------------------------------------------------------------------------------------------


def _verdict(found: bool, restricted: bool, restrictions: Sequence[dict[str, Any]]) -> Verdict:
    periods = tuple(sorted((r["sector"], r["since"], r["until"]) for r in restrictions))
    return found, restricted, periods


def _data(name: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise RaceError(f"{name} answered {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RaceError(f"{name} answered with errors: {json.dumps(body['errors'][:2], ensure_ascii=False)[:800]}")
    data: dict[str, Any] = body["data"]
    return data


async def _checks(server: Server, refs: Sequence[str], token: str | None) -> dict[str, Verdict]:
    """The single check of each ref, eight at a time."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:

        async def one(ref: str) -> tuple[str, Verdict]:
            async with limit:
                response = await client.post(
                    server.graphql, json={"query": server.dialect.check, "variables": {"u": ref}}
                )
            subject = _data(server.name, response)[server.dialect.check_root]
            if subject is None:
                return ref, (False, False, ())
            found = subject[server.dialect.restrictions]
            return ref, _verdict(True, bool(found), found)

        return dict(await asyncio.gather(*(one(ref) for ref in refs)))


def _screen(server: Server, refs: Sequence[str], token: str | None) -> dict[str, Verdict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    variables = {"refs": server.dialect.refs(refs)}
    response = httpx.post(
        server.graphql, json={"query": server.dialect.screen, "variables": variables}, headers=headers, timeout=120
    )
    results = _data(server.name, response)[server.dialect.screen_root]
    if [r["ref"] for r in results] != list(refs):
        raise RaceError(f"{server.name}'s screen did not answer one result per ref in the order sent")
    return {r["ref"]: _verdict(r["found"], r["restricted"], r["restrictions"]) for r in results}


def verdict_sample(population: Population, size: int, *, seed: int = 13) -> list[str]:
    """Up to half the sample restricted, a few USCCs no one holds (valid, so neither side refuses them as input),
    the rest drawn from the whole population."""
    rng = random.Random(seed)
    restricted = rng.sample(population.restricted, min(len(population.restricted), size // 2))
    unknown = [make_uscc("9", "1", "310104", f"Y{i:07d}") for i in range(max(1, size // 20))]
    taken = set(restricted)
    others = [c for c in rng.sample(population.codes, min(len(population.codes), size)) if c not in taken]
    sample = (restricted + unknown + others)[:size]
    rng.shuffle(sample)
    return sample


def check_verdicts(ours: Server, peer: Server, refs: Sequence[str]) -> tuple[int, int]:
    """Both sides, single check and screen, must agree on every ref; returns (found, restricted) of the sample."""
    answers: dict[str, dict[str, Verdict]] = {}
    for server in (ours, peer):
        token = server.token()
        answers[f"{server.name} subject"] = asyncio.run(_checks(server, refs, token))
        answers[f"{server.name} screen"] = _screen(server, refs, token)
    reference_name, reference = next(iter(answers.items()))
    problems = []
    for name, verdicts in answers.items():
        for ref in refs:
            if verdicts[ref] != reference[ref]:
                problems.append(f"  {ref}: {reference_name} {reference[ref]} but {name} {verdicts[ref]}")
    if problems:
        shown = "\n".join(problems[:10])
        raise RaceError(f"the two sides disagree on {len(problems)} verdicts of {len(refs)} refs:\n{shown}")
    found = sum(v[0] for v in reference.values())
    restricted = sum(v[1] for v in reference.values())
    if not restricted or found == len(refs):
        raise RaceError(f"the sample proves little: {found} found and {restricted} restricted of {len(refs)}")
    return found, restricted


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
    """The single check of a random organization, and screens of the same 64 random batches on either side."""
    rng = random.Random(seed)
    batches = [rng.sample(codes, min(SCREEN_REFS, len(codes))) for _ in range(64)]
    check: dict[str, Path] = {}
    screen: dict[str, Path] = {}
    for n, server in enumerate(servers):
        d = server.dialect
        check[server.name] = _bodies(workdir / f"check-{n}.txt", d.check, "u", codes)
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


def _exit_on_sigterm(signum: int, frame: object) -> None:
    print("race stopped (SIGTERM)", file=sys.stderr)
    raise SystemExit(128 + signum)  # unwinds the with-blocks: servers stopped, database dropped


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench race", description=__doc__.split("\n\n")[0])
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each side per case")
    parser.add_argument("--duration", type=int, default=10, help="seconds of one wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of the untimed first run of each side")
    parser.add_argument("--sample", type=int, default=500, help="refs whose verdicts must agree before timing")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the database {DATABASE} afterwards")
    args = parser.parse_args(argv)
    if args.organizations < 100 or args.rounds < 1 or not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--organizations >= 100, --rounds >= 1, 1 <= --duration <= 600, 0 <= --warmup <= 60")
    if not 10 <= args.sample <= SCREEN_REFS:
        parser.error(f"--sample between 10 and {SCREEN_REFS} (it is screened in one call)")
    return args


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    workdir = Path(tempfile.mkdtemp(prefix="hrss-race-"))  # bodies and the servers' logs
    keep_logs = False
    try:
        run(args, workdir)
    except RaceError as exc:
        keep_logs = True
        print(f"race aborted: {exc}\nthe servers' logs are in {workdir}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("race interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    wrk = require_wrk()
    require_peer()
    with bench_server() as server, contextlib.ExitStack() as stack:
        url = fresh_database(server, DATABASE)
        if not args.keep_db:
            stack.callback(drop_database, server, DATABASE)

        codes = asyncio.run(load(url, args.organizations))
        asyncio.run(list_wage_arrears(url, LISTED_SHARE))
        evaluate(url)
        asyncio.run(_execute(url, (PEER_DIR / "schema.sql").read_text(encoding="utf-8") + "\nANALYZE;"))
        population = asyncio.run(describe(url, codes))
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
