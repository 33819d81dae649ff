"""Recompute a subject's grade timeline and restriction intervals from its records (materialized at write time).

Called in the transaction of every write that changes records, for the subject and every organization whose
legal representative it is (SH art. 9(2)2), and by the yearly evaluation. A recomputation that finds the same
result writes nothing, so running it twice changes nothing; one that finds a different result supersedes the
current rows (``superseded_at``) and inserts the new ones, keeping what the system said before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.grading import grade_timeline
from domain.model import GradeSegment, Record, RestrictionDecision, SubjectFacts
from domain.restrictions import restrictions_for
from domain.rules import DEMO_PACK
from domain.taxonomy import RecordStatus, RecordType, Severity, SubjectKind
from domain.workdays import WorkCalendar
from store import notify
from store.db import array_param
from store.tables import credit_records, grades, restrictions, subjects

GRADING_START = date(2022, 12, 15)  # WG art. 22: in force from the day it was issued
HORIZON_YEARS = 6  # beyond the longest window (60 months, WG art. 9) every timeline is constant


def _among(column: sa.ColumnElement[int], ids: Iterable[int]) -> sa.ColumnElement[bool]:
    return column == sa.any_(array_param(sorted(set(ids)), sa.BigInteger))


_DEQUEUE = sa.text(
    """
    DELETE FROM recompute_queue WHERE subject_id IN (
      SELECT subject_id FROM recompute_queue WHERE subject_id = ANY(CAST(:ids AS bigint[])) FOR UPDATE SKIP LOCKED
    )
    """
)


@dataclass(frozen=True)
class Recomputed:
    subject_ids: frozenset[int]
    grades_changed: frozenset[int]
    restrictions_changed: frozenset[int]
    status_changes: tuple[notify.RestrictionStatusChange, ...] = ()


async def _subjects(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    rows = await conn.execute(
        sa.select(subjects.c.id, subjects.c.kind, subjects.c.legal_representative_id).where(_among(subjects.c.id, ids))
    )
    return {r.id: (r.kind, r.legal_representative_id) for r in rows}


async def _represented_by(conn: AsyncConnection, ids: Iterable[int]) -> set[int]:
    rows = await conn.execute(sa.select(subjects.c.id).where(_among(subjects.c.legal_representative_id, ids)))
    return {r.id for r in rows}


async def current_records(conn: AsyncConnection, subject_ids: Iterable[int]) -> dict[int, list[Record]]:
    """The current version of every record of these subjects, as the rules see them."""
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
        ).where(_among(c.subject_id, subject_ids), c.superseded_by_id.is_(None))
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


def evaluate(
    kind: SubjectKind,
    records: Sequence[Record],
    representative_records: Sequence[Record],
    *,
    subject_id: int,
    calendar: WorkCalendar,
    until: date,
) -> tuple[list[GradeSegment], list[RestrictionDecision]]:
    """The whole grade timeline (organizations only, WG art. 8) and every restriction interval of a subject."""
    segments: list[GradeSegment] = []
    if kind is SubjectKind.ORGANIZATION:
        segments = grade_timeline(records, start=GRADING_START, end=until, calendar=calendar, pack=DEMO_PACK)
    facts = SubjectFacts(id=subject_id, kind=kind, representative_records=tuple(representative_records))
    found = restrictions_for(facts, records, grade_segments=segments, pack=DEMO_PACK)
    return segments, found


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
    return (
        r.sector.value,
        r.since,
        r.until,
        r.source_record_id,
        r.legal_basis.document,
        r.legal_basis.article,
        r.measure,
        r.exception,
        r.disputed,
    )


async def recompute(
    conn: AsyncConnection, subject_ids: Iterable[int], *, calendar: WorkCalendar, today: date
) -> Recomputed:
    """Recompute these subjects and every organization they represent; write only what changed."""
    ids = set(subject_ids)
    if not ids:
        return Recomputed(frozenset(), frozenset(), frozenset())
    ids |= await _represented_by(conn, ids)
    # Two writes recomputing the same subject take turns (in id order: no deadlock); the second one then reads
    # the first one's records and current rows, so a subject never ends up with two current timelines. FOR NO KEY
    # UPDATE: a transaction inserting records of the subject (a foreign-key share lock) is not waited for.
    await conn.execute(
        sa.select(subjects.c.id)
        .where(_among(subjects.c.id, ids))
        .order_by(subjects.c.id)
        .with_for_update(key_share=True)
    )
    # Recomputed here, so no longer pending (store.pending). A queue row another transaction holds (an import
    # queueing the subject again, a drainer) is left alone: it is recomputed once that transaction is over.
    await conn.execute(_DEQUEUE, {"ids": sorted(ids)})
    info = await _subjects(conn, ids)
    representatives = {rep for _, rep in info.values() if rep is not None}
    records = await current_records(conn, ids | representatives)
    until = date(max(today.year, GRADING_START.year) + HORIZON_YEARS, 12, 31)

    current_grades = await _current_grade_keys(conn, ids)
    current_restrictions = await _current_restriction_keys(conn, ids)
    grade_rows: list[dict[str, Any]] = []
    restriction_rows: list[dict[str, Any]] = []
    grades_changed: set[int] = set()
    restrictions_changed: set[int] = set()
    status_changes: list[notify.RestrictionStatusChange] = []
    for sid, (kind, rep) in info.items():
        segments, found = evaluate(
            SubjectKind(kind),
            records.get(sid, []),
            records.get(rep, []) if rep is not None else [],
            subject_id=sid,
            calendar=calendar,
            until=until,
        )
        if sorted(map(_grade_key, segments)) != current_grades.get(sid, []):
            grades_changed.add(sid)
            grade_rows += [_grade_row(sid, s) for s in segments]
        if sorted(map(_restriction_key, found)) != current_restrictions.get(sid, []):
            restrictions_changed.add(sid)
            restriction_rows += [_restriction_row(sid, r) for r in found]
            before = {
                k[0] for k in current_restrictions.get(sid, []) if k[1] <= today and (k[2] is None or today <= k[2])
            }
            after = {r.sector.value for r in found if r.in_force_on(today)}
            status_changes += [
                notify.RestrictionStatusChange(sid, sector, sector in after) for sector in sorted(before ^ after)
            ]
    if grades_changed:
        await conn.execute(_SUPERSEDE_GRADES, {"ids": sorted(grades_changed)})
        await _copy(conn, "grades", grade_rows)
    if restrictions_changed:
        await conn.execute(_SUPERSEDE_RESTRICTIONS, {"ids": sorted(restrictions_changed)})
        await _copy(conn, "restrictions", restriction_rows)
    # Delivered to every API process when this transaction commits (restrictionChanged subscriptions).
    await notify.publish(conn, status_changes)
    return Recomputed(frozenset(ids), frozenset(grades_changed), frozenset(restrictions_changed), tuple(status_changes))


_SUPERSEDE_GRADES = sa.text(
    "UPDATE grades SET superseded_at = now() WHERE subject_id = ANY(CAST(:ids AS bigint[])) AND superseded_at IS NULL"
)
_SUPERSEDE_RESTRICTIONS = sa.text(
    "UPDATE restrictions SET superseded_at = now()"
    " WHERE subject_id = ANY(CAST(:ids AS bigint[])) AND superseded_at IS NULL"
)


async def _copy(conn: AsyncConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Append rows with COPY (in the caller's transaction): a timeline is several rows a subject, and a
    recomputation of thousands of subjects writes them at the speed of COPY rather than of an INSERT a row."""
    if not rows:
        return
    columns = list(rows[0])
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table(table, records=[tuple(r.values()) for r in rows], columns=columns)


async def _current_grade_keys(conn: AsyncConnection, ids: set[int]) -> dict[int, list[tuple[Any, ...]]]:
    g = grades.c
    rows = await conn.execute(
        sa.select(
            g.subject_id,
            g.valid_from,
            g.valid_to,
            g.level,
            g.rule_document,
            g.rule_article,
            g.basis_record_ids,
            g.disputed,
        ).where(_among(g.subject_id, ids), g.superseded_at.is_(None))
    )
    keys: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        keys[r.subject_id].append(
            (
                r.valid_from,
                r.valid_to,
                r.level,
                r.rule_document,
                r.rule_article,
                tuple(sorted(r.basis_record_ids)),
                r.disputed,
            )
        )
    return {k: sorted(v) for k, v in keys.items()}


async def _current_restriction_keys(conn: AsyncConnection, ids: set[int]) -> dict[int, list[tuple[Any, ...]]]:
    c = restrictions.c
    rows = await conn.execute(
        sa.select(
            c.subject_id,
            c.sector,
            c.since,
            c.until,
            c.source_record_id,
            c.legal_document,
            c.legal_article,
            c.measure,
            c.exception,
            c.disputed,
        ).where(_among(c.subject_id, ids), c.superseded_at.is_(None))
    )
    keys: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        keys[r.subject_id].append(tuple(r)[1:])
    return {k: sorted(v) for k, v in keys.items()}


def _grade_row(subject_id: int, s: GradeSegment) -> dict[str, Any]:
    d = s.decision
    return {
        "subject_id": subject_id,
        "level": d.level.value,
        "valid_from": s.valid_from,
        "valid_to": s.valid_to,
        "cycle_start": d.cycle_start,
        "cycle_end": d.cycle_end,
        "rule_document": d.rule.document,
        "rule_article": d.rule.article,
        "rule_text": d.rule.text,
        "basis_record_ids": list(d.basis),
        "explanation": d.explanation,
        "disputed": d.disputed,
    }


def _restriction_row(subject_id: int, r: RestrictionDecision) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "sector": r.sector.value,
        "measure": r.measure,
        "legal_document": r.legal_basis.document,
        "legal_article": r.legal_basis.article,
        "legal_text": r.legal_basis.text,
        "since": r.since,
        "until": r.until,
        "source_record_id": r.source_record_id,
        "exception": r.exception,
        "disputed": r.disputed,
    }


async def all_subject_ids(conn: AsyncConnection) -> list[int]:
    return list((await conn.execute(sa.select(subjects.c.id).order_by(subjects.c.id))).scalars())
