"""Credit records (信用信息), one row per version; reads return the current versions unless asked for history."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.publicity import HARM_ELIMINATED, publication_end
from domain.records import RECORD_CONTENT
from domain.taxonomy import RecordType, Severity
from store import paging
from store.paging import Window
from store.tables import credit_records

# A record stops being "active" when it is corrected (superseded by a new version), repaired or revoked.
ACTIVE_STATUSES = ("ACTIVE", "UNDER_OBJECTION")
# The statuses under which domain.publicity.is_published holds a record unpublished whatever its window. A
# superseded version is always CORRECTED, so the status alone decides, as it does there.
UNPUBLISHED_STATUSES = ("CORRECTED", "REPAIRED", "REVOKED")

# The columns of a record that its content digest covers; a column has the name of its content field.
CONTENT_FIELDS = tuple(f.name for f in RECORD_CONTENT)
_CONTENT_FIELD_SET = frozenset(CONTENT_FIELDS)


@dataclass(frozen=True, slots=True)
class RecordRow:
    id: int
    subject_id: int
    version: int
    category: str
    type: str
    severity: str | None
    status: str
    title: str
    decision_number: str
    source_unit: str
    legal_basis: str | None
    occurred_on: date | None
    decided_on: date
    publicity_until: date | None
    penalty_fulfilled: bool | None
    corrected_on: date | None
    details: Any
    superseded_by_id: int | None
    created_at: datetime

    @property
    def publication_end(self) -> date | None:
        """The last day the record is published (``domain.publicity.publication_end``)."""
        return publication_end(
            RecordType(self.type),
            Severity(self.severity) if self.severity else None,
            self.decided_on,
            self.publicity_until,
            self.details,
        )


def publication_end_sql() -> sa.ColumnElement[date]:
    """``domain.publicity.publication_end`` in SQL, case for case, for the clauses that filter on publication:
    the window given, else a wage-arrears listing's term, else the longest window of a GENERAL or SERIOUS
    dishonesty record (add_months in the domain and ``date + interval`` here both land on the month's last day
    when the corresponding day is missing)."""
    c = credit_records.c
    return sa.case(
        (c.publicity_until.is_not(None), c.publicity_until),
        (sa.or_(c.category != "DISHONESTY", c.type == RecordType.JUDGMENT_DEFAULTER.value), sa.null()),
        (
            c.type == RecordType.WAGE_ARREARS_BLACKLIST.value,
            sa.cast(c.decided_on + sa.text("interval '3 years'"), sa.Date),
        ),
        (
            sa.and_(
                c.type == RecordType.ADMINISTRATIVE_PENALTY.value,
                sa.or_(c.severity == Severity.MINOR.value, c.details.contains({HARM_ELIMINATED: True})),
            ),
            sa.null(),
        ),
        (c.severity == Severity.SERIOUS.value, sa.cast(c.decided_on + sa.text("interval '36 months'"), sa.Date)),
        (c.severity == Severity.GENERAL.value, sa.cast(c.decided_on + sa.text("interval '12 months'"), sa.Date)),
        else_=sa.null(),
    )


# What a read selects: the columns RecordRow holds, in its order.
_COLUMNS = tuple(credit_records.c[name] for name in RecordRow.__slots__)


def _record(r: Any) -> RecordRow:
    m = r._mapping
    return RecordRow(**{f: m[f] for f in RecordRow.__slots__})


def content_digest(content: Mapping[str, Any]) -> str:
    """A stable digest of a record's content: a resent record with the same digest is unchanged.

    Dates may be given as ``date`` or ISO strings: orjson writes both the same way.
    """
    canonical = content if content.keys() == _CONTENT_FIELD_SET else {k: content.get(k) for k in CONTENT_FIELDS}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, RecordRow]:
    rows = await conn.execute(sa.select(*_COLUMNS).where(credit_records.c.id.in_(list(set(ids)))))
    return {r.id: _record(r) for r in rows}


@dataclass(frozen=True)
class RecordScope:
    """The records an audience may see (schema/rows.py decides; this only turns it into SQL)."""

    published_only_on: date | None = None  # public portals: any record, only while published on that day
    source_unit: str | None = None  # a source unit: its own records only

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        c = credit_records.c
        clauses: list[sa.ColumnElement[bool]] = []
        day = self.published_only_on
        if day is not None:
            # domain.publicity.is_published in SQL, term for term: a portal's list and count must hide exactly
            # what its node(id:) look-up hides (WG art. 7, 舞人社〔2022〕127号 第七条; see schema/rows.py).
            end = publication_end_sql()
            clauses.append(
                sa.and_(
                    c.status.not_in(UNPUBLISHED_STATUSES),
                    end.is_not(None),
                    c.decided_on <= day,
                    end >= day,
                )
            )
        if self.source_unit is not None:
            clauses.append(c.source_unit == self.source_unit)
        return clauses


@dataclass(frozen=True)
class RecordPageKey:
    """The arguments of ``Subject.records`` that one batched query serves for many subjects."""

    category: str | None
    include_inactive: bool
    window: Window[tuple[date, int]]  # over (decided_on, id), newest first
    scope: RecordScope = RecordScope()


@dataclass(frozen=True, slots=True)
class RecordPage:
    rows: list[RecordRow]
    has_previous: bool
    has_next: bool
    total: int


async def pages_by_subject(
    conn: AsyncConnection, subject_ids: Sequence[int], key: RecordPageKey
) -> dict[int, RecordPage]:
    """A page of records for each subject in one statement: newest decision first (store.paging's window).

    Window functions number each subject's rows and count them, so a page of 20 subjects with their records
    costs one round trip, not 20.
    """
    c = credit_records.c
    filters: list[sa.ColumnElement[bool]] = [c.subject_id.in_(list(set(subject_ids))), *key.scope.clauses()]
    if key.category:
        filters.append(c.category == key.category)
    if not key.include_inactive:
        filters.append(c.status.in_(ACTIVE_STATUSES))
        filters.append(c.superseded_by_id.is_(None))
    totals = sa.select(c.subject_id, sa.func.count().label("n")).where(*filters).group_by(c.subject_id).subquery()
    sort, window = (c.decided_on, c.id), key.window
    position = sa.func.row_number().over(partition_by=c.subject_id, order_by=paging.order(sort, True, window))
    numbered = sa.select(*_COLUMNS, position.label("rn")).where(*filters, *paging.clauses(sort, True, window))
    page_rows = numbered.subquery()
    query = (
        sa.select(totals.c.subject_id.label("owner"), totals.c.n, *(page_rows.c[col.name] for col in _COLUMNS))
        .select_from(
            totals.outerjoin(
                page_rows,
                sa.and_(page_rows.c.subject_id == totals.c.subject_id, page_rows.c.rn <= window.limit),
            )
        )
        .order_by(totals.c.subject_id, page_rows.c.rn)
    )
    grouped: dict[int, list[RecordRow]] = {sid: [] for sid in subject_ids}
    total: dict[int, int] = {}
    for r in await conn.execute(query):
        total[r.owner] = r.n
        if r.id is not None:  # None: every record of this subject lies outside the cursors
            grouped[r.owner].append(_record(r))
    pages = {sid: paging.settle(rows, lambda r: (r.decided_on, r.id), window) for sid, rows in grouped.items()}
    return {sid: RecordPage(p.rows, p.has_previous, p.has_next, total.get(sid, 0)) for sid, p in pages.items()}


async def set_status(conn: AsyncConnection, record_id: int, status: str, *, reason: str) -> None:
    """A status change (revocation, objection, repair): the content stays, the trigger sees to that."""
    await conn.execute(
        credit_records.update()
        .where(credit_records.c.id == record_id)
        .values(status=status, status_reason=reason, status_changed_at=sa.func.now())
    )
