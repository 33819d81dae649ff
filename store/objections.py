"""Objections (异议, SH art. 10, WG art. 19-20): their rows, and the record changes a decision makes.

SQL only, in the caller's transaction (no commits). Status changes of a record are conditional updates
(``WHERE status = ...``), so two requests racing on the same record cannot both win: the loser changes nothing
and the schema layer answers CONFLICT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.subjects import SubjectScope
from store.tables import credit_records, objections, outbox, subjects

DECIDED_TOPIC = "objection.decided"
# A literal, not a bound parameter, so that every plan can use the partial index on this topic (migration 0005).
_DECIDED_LITERAL: sa.ColumnClause[str] = sa.literal_column(f"'{DECIDED_TOPIC}'")
OPEN = ("SUBMITTED", "VERIFYING")


@dataclass(frozen=True, slots=True)
class ObjectionRow:
    id: int
    record_id: int
    subject_id: int
    status: str
    reason: str
    submitted_at: datetime
    submitted_by: str
    received_on: date
    needs_external_verification: bool
    due_on: date
    decided_at: datetime | None
    decided_by: str | None
    decision: str | None
    push_due_on: date | None
    pushed_at: datetime | None
    deadlines_provisional: bool
    corrected_record_id: int | None


# The ``objection.decided`` outbox event of an objection: the platform has the result once the relay pushed it.
_EVENT = outbox.alias("decided_event")


def _select(*, with_push: bool = False) -> sa.Select[Any]:
    """Every column of ``ObjectionRow``. ``pushed_at`` is the objection's own column; ``with_push`` falls back to the
    push of its ``objection.decided`` event (a join over the outbox: only for the overdue report, see ``pushes``)."""
    o = objections.c
    pushed: Any = sa.func.coalesce(o.pushed_at, _EVENT.c.pushed_at) if with_push else o.pushed_at
    query = sa.select(
        o.id,
        o.record_id,
        o.subject_id,
        o.status,
        o.reason,
        o.submitted_at,
        o.submitted_by,
        o.received_on,
        o.needs_external_verification,
        o.due_on,
        o.decided_at,
        o.decided_by,
        o.decision,
        o.push_due_on,
        pushed.label("pushed_at"),
        o.deadlines_provisional,
        o.corrected_record_id,
    )
    if with_push:
        query = query.select_from(
            objections.outerjoin(_EVENT, sa.and_(_EVENT.c.topic == _DECIDED_LITERAL, _EVENT.c.aggregate_id == o.id))
        )
    return query


def _row(r: Any) -> ObjectionRow:
    m = r._mapping
    return ObjectionRow(**{f: m[f] for f in ObjectionRow.__slots__})


async def by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, ObjectionRow]:
    rows = await conn.execute(_select().where(objections.c.id.in_(list(set(ids)))))
    return {r.id: _row(r) for r in rows}


async def pushes(conn: AsyncConnection, objection_ids: Sequence[int]) -> dict[int, datetime]:
    """When the relay pushed the ``objection.decided`` event of each of these objections (WG art. 20(2)); objections
    whose event is still pending are absent."""
    rows = await conn.execute(
        sa.select(outbox.c.aggregate_id, sa.func.min(outbox.c.pushed_at).label("pushed_at"))
        .where(
            outbox.c.topic == _DECIDED_LITERAL,
            outbox.c.aggregate_id.in_(list(set(objection_ids))),
            outbox.c.pushed_at.is_not(None),
        )
        .group_by(outbox.c.aggregate_id)
    )
    return {r.aggregate_id: r.pushed_at for r in rows}


async def by_subjects(conn: AsyncConnection, subject_ids: Sequence[int]) -> dict[int, list[ObjectionRow]]:
    """The objections of each subject, newest first, in one statement."""
    query = (
        _select()
        .where(objections.c.subject_id.in_(list(set(subject_ids))))
        .order_by(objections.c.subject_id, objections.c.submitted_at.desc(), objections.c.id.desc())
    )
    found: dict[int, list[ObjectionRow]] = defaultdict(list)
    for r in await conn.execute(query):
        found[r.subject_id].append(_row(r))
    return found


def _shanghai_day(column: Any) -> Any:
    return sa.cast(sa.func.timezone("Asia/Shanghai", column), sa.Date)


async def overdue(conn: AsyncConnection, as_of: date, scope: SubjectScope) -> list[ObjectionRow]:
    """Objections with a deadline passed unmet on ``as_of`` (``domain.objections.is_overdue`` in SQL): not decided
    by ``due_on`` (WG art. 20(1)), or decided and not pushed by ``push_due_on`` (WG art. 20(2)); oldest due first."""
    o = objections.c
    pushed = sa.func.coalesce(o.pushed_at, _EVENT.c.pushed_at)
    late_decision = sa.and_(o.due_on < as_of, sa.or_(o.decided_at.is_(None), _shanghai_day(o.decided_at) > o.due_on))
    late_push = sa.and_(
        o.push_due_on.is_not(None),
        o.push_due_on < as_of,
        sa.or_(pushed.is_(None), _shanghai_day(pushed) > o.push_due_on),
    )
    query = _select(with_push=True).where(sa.or_(late_decision, late_push)).order_by(o.due_on, o.id)
    clauses = scope.clauses()
    if clauses:
        query = query.where(o.subject_id.in_(sa.select(subjects.c.id).where(*clauses)))
    return [_row(r) for r in await conn.execute(query)]


async def insert(
    conn: AsyncConnection,
    *,
    record_id: int,
    subject_id: int,
    reason: str,
    submitted_by: str,
    received_on: date,
    needs_external_verification: bool,
    due_on: date,
    deadlines_provisional: bool,
) -> int:
    pk: int = (
        await conn.execute(
            objections.insert()
            .values(
                record_id=record_id,
                subject_id=subject_id,
                status="SUBMITTED",
                reason=reason,
                submitted_by=submitted_by,
                received_on=received_on,
                needs_external_verification=needs_external_verification,
                due_on=due_on,
                deadlines_provisional=deadlines_provisional,
            )
            .returning(objections.c.id)
        )
    ).scalar_one()
    return pk


async def decide(
    conn: AsyncConnection,
    objection_id: int,
    *,
    status: str,
    decided_by: str,
    decision: str,
    push_due_on: date,
    deadlines_provisional: bool,
    corrected_record_id: int | None,
) -> bool:
    """Record the decision; False when the objection is no longer open (decided meanwhile)."""
    result = await conn.execute(
        objections.update()
        .where(objections.c.id == objection_id, objections.c.status.in_(OPEN))
        .values(
            status=status,
            decided_at=sa.func.now(),
            decided_by=decided_by,
            decision=decision,
            push_due_on=push_due_on,
            deadlines_provisional=deadlines_provisional,
            corrected_record_id=corrected_record_id,
        )
        .returning(objections.c.id)
    )
    return result.first() is not None


async def change_record_status(
    conn: AsyncConnection, record_id: int, *, from_status: str, to_status: str, reason: str
) -> bool:
    """Move the current version of a record from one status to another; False when it is not in ``from_status``
    (or was superseded) any more."""
    c = credit_records.c
    result = await conn.execute(
        credit_records.update()
        .where(c.id == record_id, c.status == from_status, c.superseded_by_id.is_(None))
        .values(status=to_status, status_reason=reason, status_changed_at=sa.func.now())
        .returning(c.id)
    )
    return result.first() is not None


async def correct_record(
    conn: AsyncConnection,
    record_id: int,
    content: Mapping[str, Any],
    *,
    digest: str,
    actor: str,
    reason: str,
) -> int | None:
    """The correction of a record under objection: a new version (version + 1, ``previous_version_id``, ACTIVE,
    ``content``) and the old one marked CORRECTED with ``superseded_by_id`` (WG art. 7: never overwritten).
    Returns the new version's id, or None when the record is no longer the current version under objection.

    One statement: the old row is updated first (the new row is built from what the update returns), so the
    one-current-version-per-decision index never sees two current rows, and the foreign key from the old row to
    the new one is checked at the end of the statement, when both exist."""
    c = credit_records.c
    sequence = sa.func.pg_get_serial_sequence("credit_records", "id")
    new_id = int((await conn.execute(sa.select(sa.func.nextval(sequence)))).scalar_one())
    old = (
        credit_records.update()
        .where(c.id == record_id, c.status == "UNDER_OBJECTION", c.superseded_by_id.is_(None))
        .values(status="CORRECTED", superseded_by_id=new_id, status_reason=reason, status_changed_at=sa.func.now())
        .returning(c.id, c.subject_id, c.version)
        .cte("old_version")
    )
    values: dict[str, Any] = {
        "id": sa.literal(new_id, sa.BigInteger),
        "subject_id": old.c.subject_id,
        "version": old.c.version + 1,
        "previous_version_id": old.c.id,
        "status": sa.literal("ACTIVE"),
        "content_digest": sa.literal(digest),
        "created_by": sa.literal(actor),
        **{
            name: sa.null() if value is None else sa.literal(value, credit_records.c[name].type)
            for name, value in content.items()
        },
    }
    insert = credit_records.insert().from_select(list(values), sa.select(*values.values())).add_cte(old).returning(c.id)
    inserted = (await conn.execute(insert)).scalar_one_or_none()
    return int(inserted) if inserted is not None else None
