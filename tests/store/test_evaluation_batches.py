"""The yearly evaluation in batches (``evaluate_all``) and ``recompute`` write what a plain recomputation writes.

The reference below applies the rules to every subject one by one, reads its records as the rules see them and
compares, writes and notifies in the simplest way, with none of the store's shared outcomes, set-based triage or
bare-outcome statement. On a mixed population (subjects with and without records, listed, repaired, revoked,
expired, disputed, represented by a defaulter, stale rows, a queued subject) both leave the same rows, the same
queue and the same status changes, after a first run, after the records change, and after a second run, which
changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.model import GradeSegment, Record, RestrictionDecision
from domain.taxonomy import RecordStatus, RecordType, Severity, SubjectKind
from domain.workdays import WorkCalendar
from store import evaluation, evaluation_batches, notify
from store.db import create_engine
from store.tables import credit_records, grades, recompute_queue, restrictions, subjects
from tests import factories
from tests.conftest import cloned_database

TODAY = date(2026, 11, 21)
CALENDAR = WorkCalendar()


# The reference: one subject at a time.


async def _reference_records(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, list[Record]]:
    c = credit_records.c
    rows = await conn.execute(
        sa.select(
            c.id,
            c.subject_id,
            c.type,
            c.severity,
            c.status,
            c.decided_on,
            c.publicity_until,
            c.penalty_fulfilled,
            c.corrected_on,
            sa.func.timezone("Asia/Shanghai", c.status_changed_at).label("status_changed"),
            c.details,
        ).where(c.subject_id.in_(sorted(set(ids))), c.superseded_by_id.is_(None))
    )
    found: dict[int, list[Record]] = defaultdict(list)
    for r in rows:
        found[r.subject_id].append(
            Record(
                id=r.id,
                subject_id=r.subject_id,
                type=RecordType(r.type),
                severity=Severity(r.severity) if r.severity else None,
                status=RecordStatus(r.status),
                decided_on=r.decided_on,
                publicity_until=r.publicity_until,
                penalty_fulfilled=r.penalty_fulfilled,
                corrected_on=r.corrected_on,
                status_changed_on=r.status_changed.date() if r.status_changed else None,
                details=MappingProxyType(dict(r.details or {})),
            )
        )
    return found


def _grade_key(s: GradeSegment) -> tuple[Any, ...]:
    d = s.decision
    return (
        s.valid_from,
        s.valid_to,
        d.level.value,
        d.rule.document,
        d.rule.article,
        tuple(sorted(d.basis)),
        d.disputed,
    )


def _restriction_key(r: RestrictionDecision) -> tuple[Any, ...]:
    b = r.legal_basis
    return (
        r.sector.value,
        r.since,
        r.until,
        r.source_record_id,
        b.document,
        b.article,
        r.measure,
        r.exception,
        r.disputed,
    )


async def _reference_recompute(conn: AsyncConnection, subject_ids: Iterable[int]) -> evaluation.Recomputed:
    s = subjects.c
    ids = set(subject_ids)
    ids |= set((await conn.execute(sa.select(s.id).where(s.legal_representative_id.in_(sorted(ids))))).scalars())
    await conn.execute(sa.select(s.id).where(s.id.in_(sorted(ids))).order_by(s.id).with_for_update(key_share=True))
    await conn.execute(sa.delete(recompute_queue).where(recompute_queue.c.subject_id.in_(sorted(ids))))
    info = {
        r.id: (r.kind, r.legal_representative_id)
        for r in await conn.execute(sa.select(s.id, s.kind, s.legal_representative_id).where(s.id.in_(sorted(ids))))
    }
    reps = {rep for _, rep in info.values() if rep is not None}
    records = await _reference_records(conn, set(info) | reps)
    until = date(TODAY.year + evaluation.HORIZON_YEARS, 12, 31)
    g, r = grades.c, restrictions.c
    current_grades: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in await conn.execute(
        sa.select(
            g.subject_id,
            g.valid_from,
            g.valid_to,
            g.level,
            g.rule_document,
            g.rule_article,
            g.basis_record_ids,
            g.disputed,
        ).where(g.subject_id.in_(sorted(info)), g.superseded_at.is_(None))
    ):
        current_grades[row[0]].append((*row[1:6], tuple(sorted(row[6])), row[7]))
    current_restrictions: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for restriction in await conn.execute(
        sa.select(
            r.subject_id,
            r.sector,
            r.since,
            r.until,
            r.source_record_id,
            r.legal_document,
            r.legal_article,
            r.measure,
            r.exception,
            r.disputed,
        ).where(r.subject_id.in_(sorted(info)), r.superseded_at.is_(None))
    ):
        current_restrictions[restriction[0]].append(tuple(restriction[1:]))
    grades_changed: set[int] = set()
    restrictions_changed: set[int] = set()
    changes: list[notify.RestrictionStatusChange] = []
    for sid, (kind, rep) in sorted(info.items()):
        segments, found = evaluation.evaluate(
            SubjectKind(kind),
            records.get(sid, []),
            records.get(rep, []) if rep is not None else [],
            subject_id=sid,
            calendar=CALENDAR,
            until=until,
        )
        if sorted(map(_grade_key, segments)) != sorted(current_grades[sid]):
            grades_changed.add(sid)
            await conn.execute(
                grades.update()
                .where(g.subject_id == sid, g.superseded_at.is_(None))
                .values(superseded_at=sa.func.now())
            )
            for seg in segments:
                d = seg.decision
                await conn.execute(
                    grades.insert().values(
                        subject_id=sid,
                        level=d.level.value,
                        valid_from=seg.valid_from,
                        valid_to=seg.valid_to,
                        cycle_start=d.cycle_start,
                        cycle_end=d.cycle_end,
                        rule_document=d.rule.document,
                        rule_article=d.rule.article,
                        rule_text=d.rule.text,
                        basis_record_ids=list(d.basis),
                        explanation=d.explanation,
                        disputed=d.disputed,
                    )
                )
        if sorted(map(_restriction_key, found)) != sorted(current_restrictions[sid]):
            restrictions_changed.add(sid)
            await conn.execute(
                restrictions.update()
                .where(r.subject_id == sid, r.superseded_at.is_(None))
                .values(superseded_at=sa.func.now())
            )
            for x in found:
                await conn.execute(
                    restrictions.insert().values(
                        subject_id=sid,
                        sector=x.sector.value,
                        measure=x.measure,
                        legal_document=x.legal_basis.document,
                        legal_article=x.legal_basis.article,
                        legal_text=x.legal_basis.text,
                        since=x.since,
                        until=x.until,
                        source_record_id=x.source_record_id,
                        exception=x.exception,
                        disputed=x.disputed,
                    )
                )
            before = {k[0] for k in current_restrictions[sid] if k[1] <= TODAY and (k[2] is None or k[2] >= TODAY)}
            after = {x.sector.value for x in found if x.in_force_on(TODAY)}
            changes += [
                notify.RestrictionStatusChange(sid, sector, sector in after) for sector in sorted(before ^ after)
            ]
    return evaluation.Recomputed(
        frozenset(ids), frozenset(grades_changed), frozenset(restrictions_changed), tuple(changes)
    )


# The population.

_LISTING = {
    "severity": "SERIOUS",
    "legal_basis": "《保障农民工工资支付条例》第四十八条",
    "details": {},
}
_REPAIRED_AT = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)


async def _population(engine: AsyncEngine) -> None:
    """Subjects of every kind the evaluation tells apart, with identical histories under different ids."""
    for _ in range(4):
        await factories.organization(engine)  # no records
    await factories.individual(engine)  # no records
    for _ in range(2):  # the same histories, under other ids: outcomes shared between subjects
        org = await factories.organization(engine)  # the sources of its rows are its second and third records
        await factories.record(engine, org["id"], RecordType.VIOLATION_CORRECTED, decided_on=date(2025, 8, 1))
        await factories.record(
            engine,
            org["id"],
            RecordType.ADMINISTRATIVE_PENALTY,
            decided_on=date(2026, 3, 2),
            corrected_on=date(2026, 3, 20),
            penalty_fulfilled=True,
        )
        await factories.record(
            engine, org["id"], RecordType.WAGE_ARREARS_BLACKLIST, decided_on=date(2024, 2, 3), **_LISTING
        )
        listed = await factories.organization(engine)
        await factories.record(
            engine, listed["id"], RecordType.WAGE_ARREARS_BLACKLIST, decided_on=date(2025, 2, 3), **_LISTING
        )
    expired = await factories.organization(engine)  # a listing decided more than three years ago
    await factories.record(
        engine, expired["id"], RecordType.WAGE_ARREARS_BLACKLIST, decided_on=date(2021, 6, 1), **_LISTING
    )
    repaired = await factories.organization(engine)
    await factories.record(
        engine,
        repaired["id"],
        RecordType.WAGE_ARREARS_BLACKLIST,
        decided_on=date(2025, 1, 10),
        status="REPAIRED",
        status_changed_at=_REPAIRED_AT,
        **_LISTING,
    )
    revoked = await factories.organization(engine)
    await factories.record(
        engine, revoked["id"], decided_on=date(2026, 1, 5), status="REVOKED", status_changed_at=_REPAIRED_AT
    )
    disputed = await factories.organization(engine)
    await factories.record(engine, disputed["id"], decided_on=date(2026, 2, 5), status="UNDER_OBJECTION")
    harmonious = await factories.organization(engine)
    await factories.record(
        engine,
        harmonious["id"],
        RecordType.HARMONIOUS_LABOR_RELATIONS,
        decided_on=date(2024, 4, 1),
        severity=None,
        details={"labor_contract_attested": True, "valid_until": "2027-03-31"},
    )
    await factories.record(engine, harmonious["id"], RecordType.AWARD, decided_on=date(2025, 4, 1), severity=None)
    defaulter = await factories.individual(engine, "李四")
    await factories.record(
        engine, defaulter["id"], RecordType.JUDGMENT_DEFAULTER, decided_on=date(2025, 9, 9), details={}
    )
    await factories.organization(engine, legal_representative_id=defaulter["id"])  # no records of its own
    clean_rep = await factories.individual(engine, "王五")
    await factories.organization(engine, legal_representative_id=clean_rep["id"])
    lookalike = await factories.organization(engine)  # no records, and a grade that is the bare one but its basis
    async with engine.begin() as conn:
        ids = list((await conn.execute(sa.select(subjects.c.id).order_by(subjects.c.id))).scalars())
        # Stale rows on subjects without records: a wrong grade, a restriction that no longer holds, a grade on an
        # individual; and a subject left queued by an import.
        stale = [ids[0], ids[1], ids[4]]
        for sid in stale:
            await conn.execute(
                grades.insert().values(
                    subject_id=sid,
                    level="B",
                    valid_from=date(2023, 1, 1),
                    cycle_start=date(2023, 1, 1),
                    cycle_end=date(2023, 12, 31),
                    rule_document="舞人社〔2022〕127号",
                    rule_article="第十一条",
                    explanation="stale",
                )
            )
        await conn.execute(
            restrictions.insert().values(
                subject_id=ids[1],
                sector="GOVERNMENT_PROCUREMENT",
                measure="stale",
                legal_document="stale",
                legal_article="stale",
                since=date(2024, 1, 1),
            )
        )
        await conn.execute(recompute_queue.insert().values(subject_id=ids[2]))
        bare = evaluation.Evaluator(CALENDAR, TODAY).bare("ORGANIZATION").grade_values
        assert len(bare) == 1
        await conn.execute(
            grades.insert().values(
                dict(zip(_GRADE_ROW, (lookalike["id"], *bare[0][:8], [ids[0]], *bare[0][9:]), strict=True))
            )
        )


async def _change_records(engine: AsyncEngine) -> None:
    """What happens between two yearly evaluations: a record for a subject that had none, a repair, a new
    listing, all without the recomputation a write does."""
    async with engine.begin() as conn:
        ids = list((await conn.execute(sa.select(subjects.c.id).order_by(subjects.c.id))).scalars())
        listed = (
            (
                await conn.execute(
                    sa.select(credit_records.c.id)
                    .where(credit_records.c.type == "WAGE_ARREARS_BLACKLIST")
                    .order_by("id")
                )
            )
            .scalars()
            .first()
        )
        await conn.execute(
            credit_records.update()
            .where(credit_records.c.id == listed)
            .values(status="REPAIRED", status_changed_at=_REPAIRED_AT)
        )
        await conn.execute(recompute_queue.insert().values(subject_id=ids[3]))
    await factories.record(engine, ids[3], decided_on=date(2026, 7, 1))
    await factories.record(engine, ids[0], RecordType.WAGE_ARREARS_BLACKLIST, decided_on=date(2026, 6, 1), **_LISTING)


_GRADE_ROW = (
    "subject_id",
    "level",
    "valid_from",
    "valid_to",
    "cycle_start",
    "cycle_end",
    "rule_document",
    "rule_article",
    "rule_text",
    "basis_record_ids",
    "explanation",
    "disputed",
)
_RESTRICTION_ROW = (
    "subject_id",
    "sector",
    "measure",
    "legal_document",
    "legal_article",
    "legal_text",
    "since",
    "until",
    "source_record_id",
    "exception",
    "disputed",
)


async def _state(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every grade and restriction row, current or superseded (but for ids and times), and the queue."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table, columns in ((grades, _GRADE_ROW), (restrictions, _RESTRICTION_ROW)):
            query = sa.select(*(table.c[c] for c in columns), table.c.superseded_at.is_(None))
            state[table.name] = sorted([tuple(row) for row in await conn.execute(query)], key=repr)
        state["queue"] = sorted(tuple(row) for row in await conn.execute(sa.select(recompute_queue.c.subject_id)))
    return state


def _summary(done: list[evaluation.Recomputed]) -> tuple[set[int], set[int], list[notify.RestrictionStatusChange]]:
    return (
        set().union(*(d.grades_changed for d in done)),
        set().union(*(d.restrictions_changed for d in done)),
        sorted((c for d in done for c in d.status_changes), key=lambda c: (c.subject_id, c.sector)),
    )


async def _ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return await evaluation.all_subject_ids(conn)


async def _run_reference(engine: AsyncEngine, batch: int) -> list[evaluation.Recomputed]:
    ids = await _ids(engine)
    done = []
    for start in range(0, len(ids), batch):
        async with engine.begin() as conn:
            done.append(await _reference_recompute(conn, ids[start : start + batch]))
    return done


async def _run(engine: AsyncEngine, how: str, batch: int) -> list[evaluation.Recomputed]:
    ids = await _ids(engine)
    done: list[evaluation.Recomputed] = []
    if how == "evaluate_all":
        await evaluation_batches.evaluate_all(
            engine, ids, calendar=CALENDAR, today=TODAY, batch=batch, lanes=2, on_batch=done.append
        )
        return done
    evaluator = evaluation.Evaluator(CALENDAR, TODAY)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        async with engine.begin() as conn:
            if how == "recompute":
                done.append(await evaluation.recompute(conn, chunk, calendar=CALENDAR, today=TODAY))
            else:
                done.append(
                    await evaluation_batches.evaluate_batch(
                        conn, chunk, evaluator=evaluator, lock_first=how == "locked"
                    )
                )
    return done


@pytest.mark.parametrize(
    ("how", "batch"),
    [("evaluate_all", 3), ("evaluate_all", 1000), ("locked", 5), ("unlocked", 5), ("recompute", 4)],
)
async def test_batches_write_what_one_subject_at_a_time_writes(
    server_url: str, database_url: str, how: str, batch: int
) -> None:
    engine = create_engine(database_url, pool_size=2)
    await _population(engine)
    await engine.dispose()
    name = make_url(database_url).database
    assert name is not None
    async with cloned_database(server_url, name) as reference_url:
        ours = create_engine(database_url, pool_size=2)
        reference = create_engine(reference_url, pool_size=2)
        try:
            for step in ("first run", "records changed", "second run"):
                if step == "records changed":
                    await _change_records(ours)
                    await _change_records(reference)
                expected = _summary(await _run_reference(reference, batch))
                found = _summary(await _run(ours, how, batch))
                assert found == expected, step
                assert await _state(ours) == await _state(reference), step
                if step == "second run":
                    assert found == (set(), set(), []), step
                else:
                    assert found[0] and found[1] and found[2], step  # the population exercises every kind of change
        finally:
            await ours.dispose()
            await reference.dispose()


async def test_subjects_with_the_same_history_share_one_evaluation(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=2)
    await _population(engine)
    evaluator = evaluation.Evaluator(CALENDAR, TODAY)
    calls = 0
    direct = evaluator._evaluate

    def counted(*args: Any) -> evaluation.Outcome:
        nonlocal calls
        calls += 1
        return direct(*args)

    evaluator._evaluate = counted  # type: ignore[method-assign,assignment]
    ids = await _ids(engine)
    async with engine.begin() as conn:
        await evaluation_batches.evaluate_batch(conn, ids, evaluator=evaluator)
    await engine.dispose()
    # One evaluation for each kind's bare outcome (every subject without records, and the organization whose
    # representative has none), one for each pair of organizations with the same history, one for each of the
    # seven other subjects with records (the represented organization's history is its representative's).
    assert calls == 2 + 2 + 7


async def test_a_record_written_before_the_lock_is_read_after_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subject without records read before the lock, which a write gives a record before the batch locks it,
    is written from its records as they are once locked."""
    engine = create_engine(database_url, pool_size=2)
    stale = await factories.organization(engine)
    async with engine.begin() as conn:
        await conn.execute(
            grades.insert().values(
                subject_id=stale["id"],
                level="B",
                valid_from=date(2023, 1, 1),
                cycle_start=date(2023, 1, 1),
                cycle_end=date(2023, 12, 31),
                rule_document="舞人社〔2022〕127号",
                rule_article="第十一条",
                explanation="stale",
            )
        )
    lock = evaluation_batches._lock

    async def write_then_lock(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
        await factories.record(engine, stale["id"], decided_on=date(2026, 7, 1))  # committed by another connection
        return await lock(conn, ids)

    monkeypatch.setattr(evaluation_batches, "_lock", write_then_lock)
    async with engine.begin() as conn:
        done = await evaluation_batches.evaluate_batch(
            conn, [stale["id"]], evaluator=evaluation.Evaluator(CALENDAR, TODAY)
        )
    monkeypatch.setattr(evaluation_batches, "_lock", lock)
    assert done.grades_changed == {stale["id"]}
    async with engine.begin() as conn:
        again = await evaluation.recompute(conn, [stale["id"]], calendar=CALENDAR, today=TODAY)
        levels = (
            await conn.execute(
                sa.select(grades.c.level).where(grades.c.subject_id == stale["id"], grades.c.superseded_at.is_(None))
            )
        ).scalars()
        assert "C" in set(levels)  # the penalty of 2026-07-01, not the bare A
    await engine.dispose()
    assert not again.grades_changed and not again.restrictions_changed
