"""The holiday table: the State Council's schedule for years the chinesecalendar package does not know."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.workdays import HolidayTable
from store.tables import holiday_years, holidays


async def load_table(conn: AsyncConnection) -> HolidayTable:
    days = {r.day: r.working_day for r in await conn.execute(sa.select(holidays.c.day, holidays.c.working_day))}
    years = (await conn.execute(sa.select(holiday_years.c.year))).scalars().all()
    return HolidayTable.from_rows(days.items(), years)


def read_csv(path: Path) -> tuple[list[tuple[date, bool, str]], set[int]]:
    """Rows ``day,working_day,note`` (working_day: 1/0, true/false, 班/休); the years they cover."""
    rows: list[tuple[date, bool, str]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, line in enumerate(csv.reader(handle), start=1):
            if not line or line[0].strip().lower() in ("day", "date", "") or line[0].startswith("#"):
                continue
            try:
                day = date.fromisoformat(line[0].strip())
            except ValueError:
                raise ValueError(f"{path}:{number}: day must be an ISO date (YYYY-MM-DD)") from None
            flag = line[1].strip().lower() if len(line) > 1 else ""
            if flag in ("1", "true", "work", "班", "yes"):
                working = True
            elif flag in ("0", "false", "off", "休", "no"):
                working = False
            else:
                raise ValueError(f"{path}:{number}: working_day must be 1/0 (or 班/休)")
            rows.append((day, working, line[2].strip() if len(line) > 2 else ""))
    return rows, {d.year for d, _, _ in rows}


async def store_years(
    conn: AsyncConnection, rows: Iterable[tuple[date, bool, str]], years: set[int], source: str
) -> int:
    """Replace the schedule of these years with the given days (all or nothing, in the caller's transaction)."""
    await conn.execute(holidays.delete().where(sa.extract("year", holidays.c.day).in_(years)))
    values = [{"day": d, "working_day": w, "note": n or None} for d, w, n in rows]
    if values:
        await conn.execute(holidays.insert(), values)
    for year in years:
        statement = insert(holiday_years).values(year=year, source=source)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[holiday_years.c.year], set_={"source": source, "loaded_at": sa.func.now()}
            )
        )
    return len(values)
