"""Run the benchmarks: `python -m bench [--organizations N]`.

Run a part with `python -m bench authz` (or evaluate, screen, import).

1. evaluate: `hrss-credit evaluate`, the yearly evaluation (WG art. 13), run twice on a fresh population with about
   1% of the organizations on the wage-arrears list (bench.evaluate): the first run and the second, which finds
   nothing to change (seconds, organizations/s); in its own database hrss_eval_bench, dropped afterwards.
2. screen: `screen(sector:, refs:)` of 1,000 references against the whole population, through the real ASGI
   app with a real token, N rounds (median and p99 latency).
3. authz: the procurement audience's single look-up against the admin schema's (same query, interleaved).
4. import: `hrss-credit import` of a fresh file of --rows records into a database already holding --records
   records (records/s); with --repeat N, N fresh files one after the other and their median; not run by default
   (it loads its own population, in the database hrss_bench_import).
5. race: hrss-credit against PostGraphile 5 on the same data, with wrk (`python -m bench race --help`); not run
   by default (it needs wrk and Node, and its own database hrss_bench_race).
6. access_log: the PostgreSQL CPU the audit log's subject index adds to a screen's entry, per index design, and
   the access log's query plan (`python -m bench access_log --help`); not run by default.
7. scale: the single check against one `hrss-credit serve` process, then against two with wrk's connections split
   between them, interleaved rounds, the ratio two/one (`python -m bench scale --help`); not run by default (it
   needs wrk, and its own database hrss_bench_scale).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings
from bench.access_log import main as access_log_main
from bench.authz import bench_authz
from bench.evaluate import bench_evaluate, grade
from bench.imports import bench_import
from bench.population import bench_server, fresh_database, load
from bench.race import main as race_main
from bench.scale import main as scale_main


async def bench_screen(url: str, codes: list[str], rounds: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="hrss-bench-"))
    settings = Settings(env="dev", data_dir=data_dir, log_json=True, log_level="WARNING")
    app = create_app(settings, database_url=url)
    rng = random.Random(3)
    query = """query ($refs: [SubjectRef!]!) { screen(sector: GOVERNMENT_PROCUREMENT, refs: $refs) {
      ref found restricted restrictions { sector measure since until legalBasis { document article } disputed } } }"""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client,
    ):
        token = app.state.auth_server.issue_token("procurement")
        headers = {"Authorization": f"Bearer {token}"}
        timings = []
        restricted = 0
        for i in range(rounds + 3):
            refs = [{"uscc": c} for c in rng.sample(codes, 1000)]
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": query, "variables": {"refs": refs}}, headers=headers
            )
            elapsed = (time.perf_counter() - started) * 1000
            body = response.json()
            assert "errors" not in body, body["errors"][:1]
            if i >= 3:  # the first rounds warm the caches and the pool
                timings.append(elapsed)
                restricted += sum(r["restricted"] for r in body["data"]["screen"])
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"screen 1,000 refs against {len(codes):,} organizations, {rounds} rounds: "
        f"median {statistics.median(timings):.1f} ms, p99 {p99:.1f} ms, max {timings[-1]:.1f} ms "
        f"({restricted / rounds:.1f} restricted per call)"
    )


def main() -> None:
    if sys.argv[1:2] == ["race"]:  # its own options: it runs two servers, not the app in process
        race_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["scale"]:  # its own options: it runs two servers, not the app in process
        scale_main(sys.argv[2:])
        return
    if sys.argv[1:2] == ["access_log"]:  # its own options and databases
        access_log_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--organizations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--batch", type=int, default=2000, help="subjects a transaction (evaluate)")
    parser.add_argument("--lanes", type=int, default=2, help="batches under way at once (evaluate)")
    parser.add_argument("--requests", type=int, default=2000, help="look-ups per audience (authz)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records already in the database (import)")
    parser.add_argument("--rows", type=int, default=50_000, help="records in the imported file (import)")
    parser.add_argument("--chunk", type=int, default=1000, help="rows per transaction (import)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="fresh files imported one after the other; the median is printed (import)"
    )
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="the imported file's (import)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that check and write the import's chunks (import)",
    )
    parser.add_argument(
        "which", nargs="*", default=["evaluate", "screen", "authz"], help="evaluate, screen, authz, import"
    )
    args = parser.parse_args()
    configure_logging("WARNING")
    with bench_server() as server:
        if "import" in args.which:
            url = fresh_database(server, "hrss_bench_import")
            asyncio.run(
                bench_import(
                    url,
                    records=args.records,
                    rows=args.rows,
                    chunk=args.chunk,
                    fmt=args.format,
                    workers=args.workers,
                    repeat=args.repeat,
                )
            )
            if args.which == ["import"]:
                return
        if "evaluate" in args.which:
            bench_evaluate(server, args.organizations, batch=args.batch, lanes=args.lanes)
        if "screen" not in args.which and "authz" not in args.which:
            return
        url = fresh_database(server, "hrss_bench")
        codes = asyncio.run(load(url, args.organizations))
        asyncio.run(grade(url, batch=args.batch))  # the grades and restrictions they read
        if "screen" in args.which:
            asyncio.run(bench_screen(url, codes, args.rounds))
        if "authz" in args.which:
            asyncio.run(bench_authz(url, codes, args.requests))


if __name__ == "__main__":
    main()
