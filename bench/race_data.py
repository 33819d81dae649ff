"""The race's data (bench.race): the population both servers read, made as a deployment makes it, and the
verdicts both must agree on before any timing. The population is bench.population's, with more organizations on
the wage-arrears list, graded and restricted by `hrss-credit evaluate`; the verdicts are each side's single check
and screen of a sample of references, compared ref by ref.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.race_servers import RaceError, Server
from domain.identifiers import make_uscc
from domain.periods import add_years
from domain.publicity import LISTING_YEARS
from domain.taxonomy import CATEGORY_OF, TITLE_ZH, RecordType
from store.db import bureau_today, create_engine
from store.records import content_digest
from store.tables import credit_records, recompute_queue, restrictions, subjects

SECTOR = "GOVERNMENT_PROCUREMENT"
LISTED_SHARE = 0.01


# A verdict as both sides can state it: found, restricted, and the periods of the restrictions in force.
Verdict = tuple[bool, bool, tuple[tuple[str, str, str | None], ...]]


# --- the database ----------------------------------------------------------------------------------------------


async def execute_script(url: str, script: str) -> None:
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
    asyncio.run(execute_script(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
