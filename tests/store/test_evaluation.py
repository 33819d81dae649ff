"""Recomputation in the store: concurrent writes to one subject leave exactly one current grade timeline."""

from __future__ import annotations

import asyncio
from datetime import date

import sqlalchemy as sa

from domain.workdays import WorkCalendar
from store import evaluation
from store.db import create_engine
from store.tables import grades
from tests import factories


async def test_two_concurrent_recomputes_of_one_subject_leave_one_current_timeline(database_url: str) -> None:
    engine = create_engine(database_url)
    org = await factories.organization(engine)
    await factories.record(engine, org["id"], decided_on=date(2026, 6, 1))
    first_holds_the_lock = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await evaluation.recompute(conn, [org["id"]], calendar=WorkCalendar(), today=date(2026, 11, 21))
            first_holds_the_lock.set()
            await asyncio.sleep(0.3)  # the second recompute must wait for this transaction

    async def second() -> None:
        await first_holds_the_lock.wait()
        async with engine.begin() as conn:
            await evaluation.recompute(conn, [org["id"]], calendar=WorkCalendar(), today=date(2026, 11, 21))

    await asyncio.gather(first(), second())
    async with engine.connect() as conn:
        current = (
            await conn.execute(
                sa.select(grades.c.valid_from, sa.func.count())
                .where(grades.c.subject_id == org["id"], grades.c.superseded_at.is_(None))
                .group_by(grades.c.valid_from)
            )
        ).all()
    await engine.dispose()
    assert current and all(n == 1 for _, n in current), current
