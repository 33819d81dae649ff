"""Restrictions as materialized (SH art. 9): look-ups for a subject, and batch screening in one statement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.subjects import SubjectRow
from store.tables import restrictions


@dataclass(frozen=True, slots=True)
class RestrictionRow:
    id: int
    subject_id: int
    sector: str
    measure: str
    legal_document: str
    legal_article: str
    legal_text: str | None
    since: date
    until: date | None
    source_record_id: int | None
    exception: str | None
    disputed: bool


_COLUMNS = [restrictions.c[f] for f in RestrictionRow.__slots__]


def _row(r: Any) -> RestrictionRow:
    m = r._mapping
    return RestrictionRow(**{f: m[f] for f in RestrictionRow.__slots__})


def _in_force(day: Any) -> sa.ColumnElement[bool]:
    c = restrictions.c
    return sa.and_(c.superseded_at.is_(None), c.since <= day, sa.or_(c.until.is_(None), c.until >= day))


async def in_force(
    conn: AsyncConnection, subject_ids: Sequence[int], day: date, sectors: Sequence[str]
) -> dict[int, list[RestrictionRow]]:
    """Restrictions in force on ``day`` in these sectors, by subject, as stored (services.grading settles the
    subjects a bulk import queued before it reads)."""
    c = restrictions.c
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .where(c.subject_id.in_(list(set(subject_ids))), c.sector.in_(list(sectors)), _in_force(day))
        .order_by(c.subject_id, c.sector, c.since, c.id)
    )
    found: dict[int, list[RestrictionRow]] = defaultdict(list)
    for r in rows:
        found[r.subject_id].append(_row(r))
    return found


@dataclass(frozen=True, slots=True)
class ScreenHit:
    position: int
    subject: SubjectRow | None
    restrictions: list[RestrictionRow]


@dataclass(frozen=True, slots=True)
class ScreenRead:
    hits: list[ScreenHit]
    queued: list[int]  # subjects found that wait in the recompute queue: their restrictions may be stale


# One row per position of the request, in its order: the subject the reference names (NULL columns when none
# does), its restrictions in force in the sector as JSON built by PostgreSQL, and whether it waits in the
# recompute queue.
_SCREEN = sa.text(
    """
    WITH refs AS (
      SELECT * FROM unnest(CAST(:usccs AS text[]), CAST(:hashes AS bytea[]), CAST(:ids AS bigint[]))
             WITH ORDINALITY AS r(uscc, id_hash, subject_id, position)
    )
    SELECT refs.position, s.id, s.kind, s.name, s.uscc, s.id_number_enc, s.id_number_masked, s.region_code,
           s.legal_representative_id, s.created_at,
           coalesce((
             SELECT json_agg(json_build_object(
                      'id', x.id, 'subject_id', x.subject_id, 'sector', x.sector, 'measure', x.measure,
                      'legal_document', x.legal_document, 'legal_article', x.legal_article,
                      'legal_text', x.legal_text, 'since', x.since, 'until', x.until,
                      'source_record_id', x.source_record_id, 'exception', x.exception, 'disputed', x.disputed)
                      ORDER BY x.since, x.id)
             FROM restrictions x
             WHERE x.subject_id = s.id AND x.sector = :sector AND x.superseded_at IS NULL
               AND x.since <= :day AND (x.until IS NULL OR x.until >= :day)
           ), '[]') AS found,
           EXISTS (SELECT 1 FROM recompute_queue q WHERE q.subject_id = s.id) AS pending
    FROM refs
    LEFT JOIN subjects s ON s.uscc = refs.uscc OR s.id_number_hash = refs.id_hash OR s.id = refs.subject_id
    ORDER BY refs.position
    """
)


async def screen(
    conn: AsyncConnection,
    *,
    usccs: Sequence[str | None],
    id_hashes: Sequence[bytes | None],
    ids: Sequence[int | None],
    sector: str,
    day: date,
) -> ScreenRead:
    """One round trip for up to 1,000 references: positions are kept, so results come back in request order.

    Each position carries exactly one of a USCC, an ID-number hash or a subject id. The subject and its
    restrictions in force come back as JSON built by PostgreSQL, one row per position, with the subjects that
    wait in the recompute queue (store.pending), which the caller settles before it trusts their restrictions.
    """
    parameters = {"usccs": list(usccs), "hashes": list(id_hashes), "ids": list(ids), "sector": sector, "day": day}
    rows = list(await conn.execute(_SCREEN, parameters))
    return ScreenRead(hits=[_screen_hit(r) for r in rows], queued=[r.id for r in rows if r.pending])


def _screen_hit(r: Any) -> ScreenHit:
    """A row of :data:`_SCREEN` as a hit: the JSON's dates are ISO text, made dates again."""
    subject = (
        SubjectRow(
            id=r.id,
            kind=r.kind,
            name=r.name,
            uscc=r.uscc,
            id_number_enc=r.id_number_enc,
            id_number_masked=r.id_number_masked,
            region_code=r.region_code,
            legal_representative_id=r.legal_representative_id,
            created_at=r.created_at,
        )
        if r.id is not None
        else None
    )
    found = [
        RestrictionRow(
            **{
                **x,
                "since": date.fromisoformat(x["since"]),
                "until": date.fromisoformat(x["until"]) if x["until"] else None,
            }
        )
        for x in (r.found or [])
    ]
    return ScreenHit(position=r.position, subject=subject, restrictions=found)
