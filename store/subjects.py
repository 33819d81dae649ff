"""Subjects (信用主体): organizations by USCC, individuals by keyed hash of their ID number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import paging
from store.db import bureau_today
from store.paging import Page, Window
from store.pii import PiiCipher
from store.tables import grades, subjects


@dataclass(frozen=True, slots=True)
class SubjectRow:
    id: int
    kind: str
    name: str
    uscc: str | None
    id_number_enc: bytes | None
    id_number_masked: str | None
    region_code: str | None
    legal_representative_id: int | None
    created_at: datetime


_COLUMNS = (
    subjects.c.id,
    subjects.c.kind,
    subjects.c.name,
    subjects.c.uscc,
    subjects.c.id_number_enc,
    subjects.c.id_number_masked,
    subjects.c.region_code,
    subjects.c.legal_representative_id,
    subjects.c.created_at,
)


def _row(r: Any) -> SubjectRow:
    m = r._mapping
    return SubjectRow(**{f: m[f] for f in SubjectRow.__slots__})


async def by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, SubjectRow]:
    rows = await conn.execute(sa.select(*_COLUMNS).where(subjects.c.id.in_(list(set(ids)))))
    return {r.id: _row(r) for r in rows}


async def by_usccs(conn: AsyncConnection, usccs: Sequence[str]) -> dict[str, SubjectRow]:
    rows = await conn.execute(sa.select(*_COLUMNS).where(subjects.c.uscc.in_(list(set(usccs)))))
    return {r.uscc: _row(r) for r in rows}


async def by_id_number_hashes(conn: AsyncConnection, hashes: Sequence[bytes]) -> dict[bytes, SubjectRow]:
    rows = await conn.execute(
        sa.select(*_COLUMNS)
        .add_columns(subjects.c.id_number_hash.label("lookup"))
        .where(subjects.c.id_number_hash.in_(list(set(hashes))))
    )
    return {r.lookup: _row(r) for r in rows}


@dataclass(frozen=True)
class SubjectScope:
    """The rows an audience may list (schema/rows.py decides; this only turns it into SQL)."""

    kind: str | None = None
    uscc: str | None = None
    only_uscc: bool = False
    nothing: bool = False

    def clauses(self) -> list[sa.ColumnElement[bool]]:
        if self.nothing:
            return [sa.false()]
        clauses: list[sa.ColumnElement[bool]] = []
        if self.kind:
            clauses.append(subjects.c.kind == self.kind)
        if self.only_uscc:
            clauses.append(subjects.c.uscc == (self.uscc or ""))
        return clauses


@dataclass(frozen=True)
class SubjectFilter:
    name_contains: str | None = None
    kind: str | None = None
    grade: str | None = None
    grade_on: date | None = None  # the day the grade filter refers to (today, in the bureau's time zone)
    scope: SubjectScope = SubjectScope()


def _where(f: SubjectFilter) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = f.scope.clauses()
    if f.name_contains:
        escaped = f.name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(subjects.c.name.ilike(f"%{escaped}%", escape="\\"))
    if f.kind:
        clauses.append(subjects.c.kind == f.kind)
    if f.grade:
        g = grades.c
        day = f.grade_on or bureau_today()
        current = (
            sa.select(g.id)
            .where(
                g.subject_id == subjects.c.id,
                g.level == f.grade,
                g.superseded_at.is_(None),
                g.valid_from <= day,
                sa.or_(g.valid_to.is_(None), g.valid_to > day),
            )
            .exists()
        )
        clauses.append(current)
    return clauses


async def page(conn: AsyncConnection, f: SubjectFilter, window: Window[int]) -> Page[SubjectRow]:
    """One page in id order (keyset pagination, store.paging)."""
    key = (subjects.c.id,)
    query = (
        sa.select(*_COLUMNS)
        .where(*_where(f), *paging.clauses(key, False, window))
        .order_by(*paging.order(key, False, window))
        .limit(window.limit)
    )
    return paging.settle([_row(r) for r in await conn.execute(query)], lambda r: r.id, window)


async def count(conn: AsyncConnection, f: SubjectFilter) -> int:
    query = sa.select(sa.func.count()).select_from(subjects).where(*_where(f))
    return int((await conn.execute(query)).scalar_one())


async def reencrypt_id_numbers(engine: AsyncEngine, cipher: PiiCipher, *, batch: int = 1000) -> int:
    """Rewrite the hash and ciphertext of every individual not yet under the cipher's current key."""
    rewritten = 0
    last_id = 0
    while True:
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(subjects.c.id, subjects.c.id_number_enc)
                    .where(subjects.c.id > last_id, subjects.c.id_number_enc.is_not(None))
                    .order_by(subjects.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return rewritten
            last_id = rows[-1].id
            stale = [r for r in rows if not cipher.is_current(r.id_number_enc)]
            for r in stale:
                number = cipher.decrypt(r.id_number_enc)
                await conn.execute(
                    subjects.update()
                    .where(subjects.c.id == r.id)
                    .values(id_number_hash=cipher.lookup_hash(number), id_number_enc=cipher.encrypt(number))
                )
            rewritten += len(stale)
