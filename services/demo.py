"""The demo data's use case: loading it into an empty database, graded (``hrss-credit seed-demo``, ``serve
--seed-demo``, ``HRSS_SEED_DEMO_ON_START``).

store.demo inserts the population and its records and leaves the grades and restrictions alone; they are
computed here, as every write's are, so that the demo reads as the running service would have written it.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.workdays import WorkCalendar
from store import demo, evaluation, holidays
from store.demo import DemoSummary
from store.pii import PiiCipher


async def seed_if_empty(conn: AsyncConnection, pii: PiiCipher, *, today: date) -> DemoSummary | None:
    """Load the demo population and its records, and recompute every subject, in the caller's transaction; None,
    and nothing written, when the database already holds subjects (the demo is never loaded twice)."""
    if not await demo.is_empty(conn):
        return None
    summary = await demo.seed_demo(conn, pii, today=today)
    calendar = WorkCalendar(await holidays.load_table(conn))
    ids = await evaluation.all_subject_ids(conn)
    await evaluation.recompute(conn, ids, calendar=calendar, today=today)
    return summary
