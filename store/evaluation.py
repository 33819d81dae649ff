"""Recompute a subject's grade timeline and restriction intervals from its records (materialized at write time).

Called in the transaction of every write that changes records, for the subject and every organization whose
legal representative it is (SH art. 9(2)2), and by the yearly evaluation. A recomputation that finds the same
result writes nothing, so running it twice changes nothing; one that finds a different result supersedes the
current rows (``superseded_at``) and inserts the new ones, keeping what the system said before.

The rules read a record's id only to order and to name records, so subjects whose records (and whose
representatives' records) are the same but for their ids get the same outcome: ``Evaluator`` applies the rules
once for each such history. The yearly evaluation (store.evaluation_batches) compares and writes with
``_compare`` and ``_write`` as ``recompute`` does, adding a ``BareWriter``: the one statement that writes their
kind's bare outcome for many subjects without records at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.grading import grade_timeline
from domain.model import GradeSegment, Record, RestrictionDecision, SubjectFacts
from domain.restrictions import restrictions_for
from domain.rules import DEMO_PACK
from domain.taxonomy import RecordStatus, RecordType, Severity, SubjectKind
from domain.workdays import WorkCalendar
from store import notify
from store.db import array_param, copy_rows
from store.tables import subjects

GRADING_START = date(2022, 12, 15)  # WG art. 22: in force from the day it was issued
HORIZON_YEARS = 6  # beyond the longest window (60 months, WG art. 9) every timeline is constant

# Outcomes an ``Evaluator`` remembers; past this it forgets them all and starts again.
_MAX_OUTCOMES = 100_000


class BareWriter(Protocol):
    """What writes the one grade row of a kind's bare outcome for many subjects in one statement
    (store.evaluation_batches): subjects of the kinds ``graded`` without records, whose representative has none
    either, and whose current grade rows are superseded already."""

    @property
    def graded(self) -> Sequence[str]: ...

    async def write(self, conn: AsyncConnection, ids: Sequence[int]) -> None: ...


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


async def _driver(conn: AsyncConnection) -> Any:
    """The connection's asyncpg connection, for the reads and locks whose rows are many. A statement must have run
    in the transaction already: SQLAlchemy begins it lazily, with its first statement."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert conn.in_transaction() and driver is not None
    return driver


async def _represented_by(conn: AsyncConnection, ids: Iterable[int]) -> set[int]:
    rows = await conn.execute(sa.select(subjects.c.id).where(_among(subjects.c.legal_representative_id, ids)))
    return {r.id for r in rows}


_LOCK = (
    "SELECT id, kind, legal_representative_id FROM subjects WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE"
)


async def _lock(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, tuple[str, int | None]]:
    """Lock these subjects; their kind and representative, as the lock finds them."""
    # Two writes recomputing the same subject take turns (in id order: no deadlock); the second one then reads
    # the first one's records and current rows, so a subject never ends up with two current timelines. FOR NO KEY
    # UPDATE: a transaction inserting records of the subject (a foreign-key share lock) is not waited for.
    return {r[0]: (r[1], r[2]) for r in await (await _driver(conn)).fetch(_LOCK, sorted(set(ids)))}


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


# The columns COPY writes, in this order; a row is the subject's id and then what ``_grade_values`` and
# ``_restriction_values`` give. The key of a row (``_grade_key``, ``_restriction_key``) is what tells an unchanged
# timeline from a changed one.
_GRADE_COLUMNS = (
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
_GRADE_KEY_IDS = 5  # the basis in a grade key
_GRADE_ROW_IDS = 8  # and in a grade row's values
_RESTRICTION_COLUMNS = (
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
_RESTRICTION_KEY_ID = 3  # the source record in a restriction key
_RESTRICTION_ROW_ID = 7  # and in a restriction row's values


def _grade_values(s: GradeSegment) -> tuple[Any, ...]:
    d = s.decision
    return (
        d.level.value,
        s.valid_from,
        s.valid_to,
        d.cycle_start,
        d.cycle_end,
        d.rule.document,
        d.rule.article,
        d.rule.text,
        list(d.basis),
        d.explanation,
        d.disputed,
    )


def _restriction_values(r: RestrictionDecision) -> tuple[Any, ...]:
    return (
        r.sector.value,
        r.measure,
        r.legal_basis.document,
        r.legal_basis.article,
        r.legal_basis.text,
        r.since,
        r.until,
        r.source_record_id,
        r.exception,
        r.disputed,
    )


# A record as a history holds it: every column the rules read but its id and subject, in the order of
# _CURRENT_RECORDS (details as jsonb's text: the same text is the same value).
_Entry = tuple[Any, ...]

_CURRENT_RECORDS = """
    SELECT id, subject_id, type, severity, status, decided_on, publicity_until, penalty_fulfilled, corrected_on,
           CAST(timezone('Asia/Shanghai', status_changed_at) AS date), CAST(details AS text)
    FROM credit_records WHERE subject_id = ANY($1::bigint[]) AND superseded_by_id IS NULL
    ORDER BY subject_id, id
"""
_CURRENT_GRADES = """
    SELECT subject_id, valid_from, valid_to, level, rule_document, rule_article, basis_record_ids, disputed
    FROM grades WHERE subject_id = ANY($1::bigint[]) AND superseded_at IS NULL
"""
_CURRENT_RESTRICTIONS = """
    SELECT subject_id, sector, since, until, source_record_id, legal_document, legal_article, measure, exception,
           disputed
    FROM restrictions WHERE subject_id = ANY($1::bigint[]) AND superseded_at IS NULL
"""
# The same for the subjects whose ids lie between $1 and $2: one range of the index rather than a look-up an id.
_RECORDS_BETWEEN, _GRADES_BETWEEN, _RESTRICTIONS_BETWEEN = (
    q.replace("= ANY($1::bigint[])", "BETWEEN $1::bigint AND $2::bigint")
    for q in (_CURRENT_RECORDS, _CURRENT_GRADES, _CURRENT_RESTRICTIONS)
)


def _record(rank: int, entry: _Entry) -> Record:
    """The record of a history, its id being its rank (from 1) in the history's id order."""
    type_, severity, status, decided_on, publicity_until, fulfilled, corrected_on, status_changed_on, details = entry
    loaded = orjson.loads(details) if details is not None else None
    return Record(
        id=rank,
        subject_id=0,
        type=RecordType(type_),
        severity=Severity(severity) if severity else None,
        status=RecordStatus(status),
        decided_on=decided_on,
        publicity_until=publicity_until,
        penalty_fulfilled=fulfilled,
        corrected_on=corrected_on,
        status_changed_on=status_changed_on,
        details=MappingProxyType(dict(loaded or {})),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the rules decide for a history: the grade and restriction rows, with records named by their rank in
    the history (1 for its lowest id); ``named`` tells whether any row names one."""

    grade_keys: tuple[tuple[Any, ...], ...]
    grade_values: tuple[tuple[Any, ...], ...]
    restriction_keys: tuple[tuple[Any, ...], ...]
    restriction_values: tuple[tuple[Any, ...], ...]
    named: bool

    def grade_keys_of(self, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """The sorted grade keys of a subject whose history's records have these ids (in id order)."""
        if not self.named:
            return sorted(self.grade_keys)
        i = _GRADE_KEY_IDS
        return sorted([(*k[:i], tuple(sorted([ids[n - 1] for n in k[i]])), *k[i + 1 :]) for k in self.grade_keys])

    def restriction_keys_of(self, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        if not self.named:
            return sorted(self.restriction_keys)
        i = _RESTRICTION_KEY_ID
        return sorted([(*k[:i], _named(ids, k[i]), *k[i + 1 :]) for k in self.restriction_keys])

    def grade_rows(self, subject_id: int, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        i = _GRADE_ROW_IDS
        return [(subject_id, *v[:i], [ids[n - 1] for n in v[i]], *v[i + 1 :]) for v in self.grade_values]

    def restriction_rows(self, subject_id: int, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        i = _RESTRICTION_ROW_ID
        return [(subject_id, *v[:i], _named(ids, v[i]), *v[i + 1 :]) for v in self.restriction_values]


def _named(ids: Sequence[int], rank: int | None) -> int | None:
    return None if rank is None else ids[rank - 1]


class Evaluator:
    """Applies the rules (``evaluate``) for one calendar and one as-of year, once for each distinct history (the
    subject's kind and its records and its representative's, ids left out), and keeps the outcomes."""

    def __init__(self, calendar: WorkCalendar, today: date) -> None:
        self.calendar = calendar
        self.today = today
        self.until = date(max(today.year, GRADING_START.year) + HORIZON_YEARS, 12, 31)
        self._outcomes: dict[tuple[Any, ...], Outcome] = {}

    def outcome(self, kind: str, own: Sequence[_Entry], representative: Sequence[_Entry]) -> Outcome:
        """The outcome of a subject of ``kind`` whose own records are ``own`` and whose representative's are
        ``representative``, numbered together: rank n is the n-th lowest id of both (``_ranked``)."""
        key = (kind, tuple(own), tuple(representative))
        found = self._outcomes.get(key)
        if found is None:
            found = self._evaluate(kind, own, representative)
            if len(self._outcomes) >= _MAX_OUTCOMES:
                self._outcomes.clear()
            self._outcomes[key] = found
        return found

    def bare(self, kind: str) -> Outcome:
        """The outcome of a subject of ``kind`` with no record, whose representative has none either."""
        return self.outcome(kind, (), ())

    def _evaluate(self, kind: str, own: Sequence[_Entry], representative: Sequence[_Entry]) -> Outcome:
        records = [_record(rank, e) for rank, e in own]
        representative_records = [_record(rank, e) for rank, e in representative]
        segments, found = evaluate(
            SubjectKind(kind),
            records,
            representative_records,
            subject_id=0,
            calendar=self.calendar,
            until=self.until,
        )
        return Outcome(
            grade_keys=tuple(map(_grade_key, segments)),
            grade_values=tuple(map(_grade_values, segments)),
            restriction_keys=tuple(map(_restriction_key, found)),
            restriction_values=tuple(map(_restriction_values, found)),
            named=bool(own or representative),
        )


def _ranked(
    own: Sequence[Sequence[Any]], representative: Sequence[Sequence[Any]]
) -> tuple[list[int], list[tuple[int, _Entry]], list[tuple[int, _Entry]]]:
    """Rows of ``_CURRENT_RECORDS`` (id first, in id order) of a subject and of its representative: the ids in id
    order, and each side's entries with their rank among them."""
    if not representative:
        return [r[0] for r in own], [(n, tuple(r[2:])) for n, r in enumerate(own, start=1)], []
    both = sorted([(r[0], False, r) for r in own] + [(r[0], True, r) for r in representative], key=lambda t: t[0])
    ids = [t[0] for t in both]
    mine = [(n, tuple(t[2][2:])) for n, t in enumerate(both, start=1) if not t[1]]
    theirs = [(n, tuple(t[2][2:])) for n, t in enumerate(both, start=1) if t[1]]
    return ids, mine, theirs


async def recompute(
    conn: AsyncConnection, subject_ids: Iterable[int], *, calendar: WorkCalendar, today: date
) -> Recomputed:
    """Recompute these subjects and every organization they represent; write only what changed."""
    ids = set(subject_ids)
    if not ids:
        return Recomputed(frozenset(), frozenset(), frozenset())
    ids |= await _represented_by(conn, ids)
    info = await _lock(conn, ids)
    # Recomputed here, so no longer pending (store.pending). A queue row another transaction holds (an import
    # queueing the subject again, a drainer) is left alone: it is recomputed once that transaction is over.
    await conn.execute(_DEQUEUE, {"ids": sorted(ids)})
    found = await _compare(conn, info, Evaluator(calendar, today))
    await _write(conn, found)
    return Recomputed(
        frozenset(ids), frozenset(found.grades_changed), frozenset(found.restrictions_changed), tuple(found.changes)
    )


@dataclass
class _Compared:
    """What the rules decide for some subjects against their current rows: the subjects whose grades and whose
    restrictions changed, the rows that replace theirs (``bare``: subjects whose new grade rows are their kind's
    bare outcome, written by one statement), and the restriction status changes of today."""

    grades_changed: set[int] = field(default_factory=set)
    restrictions_changed: set[int] = field(default_factory=set)
    grade_rows: list[tuple[Any, ...]] = field(default_factory=list)
    restriction_rows: list[tuple[Any, ...]] = field(default_factory=list)
    bare: list[int] = field(default_factory=list)
    changes: list[notify.RestrictionStatusChange] = field(default_factory=list)
    # Those of the changed subjects that have current rows to supersede.
    grades_superseded: list[int] = field(default_factory=list)
    restrictions_superseded: list[int] = field(default_factory=list)


async def _compare(
    conn: AsyncConnection,
    info: dict[int, tuple[str, int | None]],
    evaluator: Evaluator,
    *,
    bare: BareWriter | None = None,
) -> _Compared:
    """Apply the rules to these subjects (id: kind and representative) and compare the outcome with their current
    rows; reads only. With ``bare``, subjects without records whose kind's bare outcome it writes are left to it
    (``_Compared.bare``)."""
    found = _Compared()
    if not info:
        return found
    today = evaluator.today
    records, grade_rows, restriction_rows = await _current(
        await _driver(conn), sorted(info), {rep for _, rep in info.values() if rep is not None}
    )
    current_grades = _keyed(grade_rows, grades=True)
    current_restrictions = _keyed(restriction_rows, grades=False)
    graded = bare.graded if bare is not None else ()
    none: list[Any] = []
    for sid, (kind, rep) in info.items():
        record_ids, own, theirs = _ranked(records.get(sid, none), records.get(rep, none) if rep is not None else none)
        outcome = evaluator.outcome(kind, own, theirs)
        current = current_grades.get(sid, none)
        if outcome.grade_keys_of(record_ids) != current:
            found.grades_changed.add(sid)
            if current:
                found.grades_superseded.append(sid)
            if not own and not theirs and kind in graded:
                found.bare.append(sid)
            else:
                found.grade_rows += outcome.grade_rows(sid, record_ids)
        keys = outcome.restriction_keys_of(record_ids)
        current = current_restrictions.get(sid, none)
        if keys != current:
            found.restrictions_changed.add(sid)
            if current:
                found.restrictions_superseded.append(sid)
            found.restriction_rows += outcome.restriction_rows(sid, record_ids)
            before = {k[0] for k in current if k[1] <= today and (k[2] is None or today <= k[2])}
            after = {k[0] for k in keys if k[1] <= today and (k[2] is None or today <= k[2])}
            found.changes += [
                notify.RestrictionStatusChange(sid, sector, sector in after) for sector in sorted(before ^ after)
            ]
    return found


async def _current(
    driver: Any, ids: list[int], representatives: set[int]
) -> tuple[dict[int, list[Any]], Sequence[Any], Sequence[Any]]:
    """The current records of these subjects and of their representatives (by subject), and the current grade and
    restriction rows of the subjects; read as one range when the subjects fill most of it (a batch of the yearly
    evaluation), else by id."""
    low, high = ids[0], ids[-1]
    if 2 * len(ids) > high - low:
        rows = list(await driver.fetch(_RECORDS_BETWEEN, low, high))
        outside = sorted(r for r in representatives if not low <= r <= high)
        if outside:
            rows += await driver.fetch(_CURRENT_RECORDS, outside)
        grade_rows = await driver.fetch(_GRADES_BETWEEN, low, high)
        restriction_rows = await driver.fetch(_RESTRICTIONS_BETWEEN, low, high)
    else:
        rows = await driver.fetch(_CURRENT_RECORDS, sorted(set(ids) | representatives))
        grade_rows = await driver.fetch(_CURRENT_GRADES, ids)
        restriction_rows = await driver.fetch(_CURRENT_RESTRICTIONS, ids)
    records: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        records[row[1]].append(row)
    return records, grade_rows, restriction_rows


async def _write(conn: AsyncConnection, found: _Compared, bare: BareWriter | None = None) -> None:
    """Supersede the current rows of the subjects that changed, write their new ones and publish the status
    changes (the subjects locked, and the comparison made after the lock: only a recomputation, under the same
    lock, writes grades and restrictions, so the current rows it read are still all there are)."""
    if found.grades_superseded:
        await conn.execute(_SUPERSEDE_GRADES, {"ids": sorted(found.grades_superseded)})
    if found.grade_rows:
        await copy_rows(conn, "grades", _GRADE_COLUMNS, found.grade_rows)
    if found.bare:
        assert bare is not None
        await bare.write(conn, sorted(found.bare))
    if found.restrictions_superseded:
        await conn.execute(_SUPERSEDE_RESTRICTIONS, {"ids": sorted(found.restrictions_superseded)})
    if found.restriction_rows:
        await copy_rows(conn, "restrictions", _RESTRICTION_COLUMNS, found.restriction_rows)
    # Delivered to every API process when this transaction commits (restrictionChanged subscriptions).
    await notify.publish(conn, found.changes)


def _keyed(rows: Sequence[Any], *, grades: bool) -> dict[int, list[tuple[Any, ...]]]:
    """Current grade or restriction rows of ``_CURRENT_GRADES`` / ``_CURRENT_RESTRICTIONS`` as sorted keys a
    subject (``_grade_key``, ``_restriction_key``)."""
    keys: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if grades:
        for r in rows:
            keys[r[0]].append((r[1], r[2], r[3], r[4], r[5], tuple(sorted(r[6])), r[7]))
    else:
        for r in rows:
            keys[r[0]].append(tuple(r[1:]))
    for v in keys.values():
        v.sort()
    return keys


_SUPERSEDE_GRADES = sa.text(
    "UPDATE grades SET superseded_at = now() WHERE subject_id = ANY(CAST(:ids AS bigint[])) AND superseded_at IS NULL"
)
_SUPERSEDE_RESTRICTIONS = sa.text(
    "UPDATE restrictions SET superseded_at = now()"
    " WHERE subject_id = ANY(CAST(:ids AS bigint[])) AND superseded_at IS NULL"
)


async def all_subject_ids(conn: AsyncConnection) -> list[int]:
    return list((await conn.execute(sa.select(subjects.c.id).order_by(subjects.c.id))).scalars())
