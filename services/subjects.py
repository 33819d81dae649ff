"""Subjects: create or update them (a name, a region, the legal representative an organization links to)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.workdays import WorkCalendar
from services.errors import BadUserInput
from store import evaluation, imports
from store.imports import SubjectUpsert
from store.pii import PiiCipher


async def upsert_subjects(
    conn: AsyncConnection, items: Sequence[SubjectUpsert], *, today: date, calendar: WorkCalendar, pii: PiiCipher
) -> list[int]:
    """Write the subjects all or none and recompute them (a new representative changes what an organization is
    restricted by, SH art. 9(2)2); the ids in the order given."""
    if len(items) > imports.MAX_BATCH:
        raise BadUserInput(f"at most {imports.MAX_BATCH} subjects a call", field="subjects")
    ids, errors = await imports.upsert_subjects(conn, list(items), pii=pii)
    if errors:
        first = errors[0]
        raise BadUserInput(
            f"subjects[{first.index}].{first.field}: {first.message}",
            field=f"subjects[{first.index}].{first.field}",
            index=first.index,
            errors=[{"index": e.index, "field": e.field, "message": e.message} for e in errors],
        )
    await evaluation.recompute(conn, ids, calendar=calendar, today=today)
    return ids
