"""Demo data: a fictitious Shanghai population of employers and people with credit records of every type.

Loaded by ``hrss-credit seed-demo`` (or at start-up with ``HRSS_SEED_DEMO_ON_START``) into an empty
database so that a newcomer can query the API at once; docs/demo-data.md describes what it holds and names
the subjects to try. Everything is generated from fixed seeds (``random.Random`` instances, never the
module-level functions), so the same names, USCCs and ID numbers come out on every machine; record dates are
counted back from ``today`` so that the intended grades (DESIGN.md "Grades", WG art. 8-13) hold whenever the
demo is loaded. The grading engine is not called here: the records are laid out so that its result is
already determined (the grades and restrictions tables are left to it).

This module plays the scenario table (store.demo_scenarios) out into records and inserts them. The subjects
come from store.demo_population, the records of each type from store.demo_records, the names, units and
provisions from store.demo_data. All names are invented; any resemblance to a real entity is coincidental.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache, partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identifiers import mask_id_number
from domain.taxonomy import ObjectionStatus, RecordStatus, RepairStatus, SubjectKind
from store.demo_population import Plan, make_plan
from store.demo_records import (
    ObjectionSpec,
    Rec,
    Records,
    RepairSpec,
    add_months,
    at,
    working_days_after,
    working_days_before,
)
from store.demo_scenarios import (
    NAMED,
    PERSON_SCENARIOS,
    SCENARIO_BY_NAME,
    AfterFirst,
    Between,
    Chance,
    DaysAgo,
    MonthsAgo,
    Objection,
    Repair,
    Revocation,
    Step,
    Then,
    When,
)
from store.pii import PiiCipher
from store.records import content_digest
from store.tables import credit_records, objections, repairs, subjects

__all__ = ["DemoSubject", "DemoSummary", "is_empty", "named_subjects", "seed_demo"]

SEED = 20231001
"""The seed of the subject population (names and identifiers). Records use ``SEED + 1``, their document
numbers ``SEED + 2``."""

CREATED_BY = "demo-seed"


@dataclass(frozen=True)
class DemoSubject:
    """A subject the README names so that a newcomer can query it at once."""

    role: str
    name: str
    uscc: str | None
    id_number: str | None


@dataclass(frozen=True)
class DemoSummary:
    organizations: int
    individuals: int
    records: int
    objections: int
    named: tuple[DemoSubject, ...]


@lru_cache(maxsize=1)
def _plan() -> Plan:
    """The subjects: names and identifiers depend on the seed only, never on ``today``."""
    return make_plan(random.Random(SEED))


def named_subjects() -> tuple[DemoSubject, ...]:
    """The subjects docs/demo-data.md names, computed without touching the database (deterministic)."""
    plan = _plan()
    named: list[DemoSubject] = []
    for role, which in NAMED:
        if isinstance(which, int):
            person = plan.people[which]
            named.append(DemoSubject(role, person.name, None, person.id_number))
        else:
            org = next(o for o in plan.orgs if o.scenario == which)
            named.append(DemoSubject(role, org.name, org.uscc, None))
    return tuple(named)


# --- Playing the scenarios (dates relative to ``today``) ---------------------------------------------------


def _build(today: date) -> Records:
    plan = _plan()
    # Document numbers draw from their own generator: their patterns hold the year, which depends on
    # ``today``, and must not shift the draws of ``rng``: every ``today`` gets the same records, dated anew.
    built = Records(plan, today, rng=random.Random(SEED + 1), numbering=random.Random(SEED + 2))
    for org in plan.orgs:
        _play(built, SCENARIO_BY_NAME[org.scenario].steps, partial(built.of_org, org))
    for scenario in PERSON_SCENARIOS:
        for index in scenario.people:
            _play(built, scenario.steps, partial(built.of_person, plan.people[index]))
    keys = [r.key for r in built.records]
    assert len(set(keys)) == len(keys), "decision numbers must be unique per source unit"
    assert all(r.decided_on <= today for r in built.records)
    return built


def _play(built: Records, steps: Iterable[Step], make: Callable[[Step, date], Rec]) -> None:
    """Make one subject's records of its scenario, step by step."""
    draws: dict[str, float] = {}
    first: date | None = None
    for step in steps:
        if step.chance is not None and not _happens(built.rng, step.chance, draws):
            continue
        decided = _day(built, step.on, first)
        if decided is None:
            continue
        record = make(step, decided)
        first = decided if first is None else first
        if step.then is not None:
            _settle(built, record, step.then)


def _happens(rng: random.Random, chance: Chance, draws: dict[str, float]) -> bool:
    if chance.draw is None:
        value = rng.random()
    elif chance.draw in draws:
        value = draws[chance.draw]
    else:
        value = draws[chance.draw] = rng.random()
    return chance.at_least <= value < chance.below


def _day(built: Records, on: When, first: date | None) -> date | None:
    """The day of a step's record; None when the step is skipped."""
    if isinstance(on, DaysAgo):
        return _days_ago(built, on)
    if isinstance(on, MonthsAgo):
        return add_months(built.today, -on.months)
    if isinstance(on, Between):
        return built.ago(on.newest, on.oldest)
    assert isinstance(on, AfterFirst) and first is not None, "a step dated after the first record cannot come first"
    if (built.today - first).days <= on.high:
        return None
    return first + timedelta(days=built.rng.randint(on.low, on.high))


def _days_ago(built: Records, on: DaysAgo) -> date:
    return built.today - timedelta(days=on.days)


def _settle(built: Records, record: Rec, then: Then) -> None:
    """What became of a record after its decision, kept for history."""
    if isinstance(then, Objection):
        received = working_days_before(built.today, then.working_days_ago)
        record.status, record.status_changed_at = RecordStatus.UNDER_OBJECTION, at(received)
        record.status_reason = "异议申请处理中"
        built.objections.append(ObjectionSpec(record, then.reason, received, then.external))
    elif isinstance(then, Revocation):
        record.status, record.status_changed_at = RecordStatus.REVOKED, at(_days_ago(built, then.on))
        record.status_reason = then.reason
    else:
        assert isinstance(then, Repair)
        repaired, applied = _days_ago(built, then.decided), _days_ago(built, then.applied)
        record.publicity_until = add_months(record.decided_on, then.published_months)
        record.status, record.status_changed_at = RecordStatus.REPAIRED, at(repaired, 15)
        record.status_reason = then.reason
        built.repairs.append(RepairSpec(record, then.statement, applied, repaired, then.decision))


# --- Loading -----------------------------------------------------------------------------------------------


async def is_empty(conn: AsyncConnection) -> bool:
    """True when the database holds no subject yet (the demo is only loaded into an empty database)."""
    return (await conn.execute(sa.select(subjects.c.id).limit(1))).first() is None


async def seed_demo(conn: AsyncConnection, pii: PiiCipher, *, today: date) -> DemoSummary:
    """Insert the demo population and its records; the caller owns (and commits) the transaction.

    Five multi-row statements: individuals, organizations, records, objections, repairs. Ids are matched back
    by natural key (ID-number hash, USCC, source unit + decision number), not by row order.
    """
    plan = _plan()
    built = _build(today)
    subject_id = await _insert_people(conn, pii, plan)
    subject_id.update(await _insert_orgs(conn, plan, subject_id))
    record_id = await _insert_records(conn, built.records, subject_id)
    objection_rows = [_objection_row(o, record_id, subject_id) for o in built.objections]
    if objection_rows:
        await conn.execute(objections.insert(), objection_rows)
    repair_rows = [_repair_row(r, record_id, subject_id) for r in built.repairs]
    if repair_rows:
        await conn.execute(repairs.insert(), repair_rows)
    return DemoSummary(
        organizations=len(plan.orgs),
        individuals=len(plan.people),
        records=len(built.records),
        objections=len(objection_rows),
        named=named_subjects(),
    )


async def _insert_people(conn: AsyncConnection, pii: PiiCipher, plan: Plan) -> dict[str, int]:
    """The individuals; returns their ids by ID number."""
    rows = [
        {
            "kind": SubjectKind.INDIVIDUAL.value,
            "name": p.name,
            "id_number_hash": pii.lookup_hash(p.id_number),
            "id_number_enc": pii.encrypt(p.id_number),
            "id_number_masked": mask_id_number(p.id_number),
            "region_code": p.id_number[:6],
        }
        for p in plan.people
    ]
    result = await conn.execute(subjects.insert().returning(subjects.c.id, subjects.c.id_number_hash), rows)
    by_hash = {row.id_number_hash: row.id for row in result}
    return {p.id_number: by_hash[pii.lookup_hash(p.id_number)] for p in plan.people}


async def _insert_orgs(conn: AsyncConnection, plan: Plan, person_id: dict[str, int]) -> dict[str, int]:
    """The organizations, with their legal representatives' ids; returns their ids by USCC."""
    rows = [
        {
            "kind": SubjectKind.ORGANIZATION.value,
            "name": o.name,
            "uscc": o.uscc,
            "region_code": o.uscc[2:8],
            "legal_representative_id": (
                person_id[plan.people[o.representative].id_number] if o.representative is not None else None
            ),
        }
        for o in plan.orgs
    ]
    result = await conn.execute(subjects.insert().returning(subjects.c.id, subjects.c.uscc), rows)
    return {row.uscc: row.id for row in result}


async def _insert_records(
    conn: AsyncConnection, records: list[Rec], subject_id: dict[str, int]
) -> dict[tuple[str, str], int]:
    """The records; returns their ids by (source unit, decision number)."""
    rows = [_record_row(r, subject_id) for r in records]
    result = await conn.execute(
        credit_records.insert().returning(
            credit_records.c.id, credit_records.c.source_unit, credit_records.c.decision_number
        ),
        rows,
    )
    return {(row.source_unit, row.decision_number): row.id for row in result}


def _record_row(r: Rec, subject_id: dict[str, int]) -> dict[str, Any]:
    content = r.content()
    return {
        **content,
        "subject_id": subject_id[r.subject],
        "version": 1,
        "status": r.status.value,
        "content_digest": content_digest(content),
        "created_by": CREATED_BY,
        "status_changed_at": r.status_changed_at,
        "status_reason": r.status_reason,
    }


def _objection_row(
    o: ObjectionSpec, record_id: dict[tuple[str, str], int], subject_id: dict[str, int]
) -> dict[str, Any]:
    return {
        "record_id": record_id[o.record.key],
        "subject_id": subject_id[o.record.subject],
        "status": ObjectionStatus.SUBMITTED.value,
        "reason": o.reason,
        "submitted_at": at(o.received_on, 9),
        "submitted_by": CREATED_BY,
        "received_on": o.received_on,
        "needs_external_verification": o.external,
        # WG art. 20: 3 working days, 10 when another department must verify (Monday-Friday here).
        "due_on": working_days_after(o.received_on, 10 if o.external else 3),
        "deadlines_provisional": False,
    }


def _repair_row(r: RepairSpec, record_id: dict[tuple[str, str], int], subject_id: dict[str, int]) -> dict[str, Any]:
    return {
        "record_id": record_id[r.record.key],
        "subject_id": subject_id[r.record.subject],
        "status": RepairStatus.APPROVED.value,
        "statement": r.statement,
        "submitted_at": at(r.submitted_on, 9),
        "submitted_by": CREATED_BY,
        "decided_at": at(r.decided_on, 15),
        "decided_by": CREATED_BY,
        "decision": r.decision,
    }
