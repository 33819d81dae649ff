"""CLI commands that work on the database: evaluate (WG art. 13, the yearly evaluation) and holidays load."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from api.cli import app
from store.db import create_engine
from store.tables import grades, holiday_years, holidays
from tests import factories

runner = CliRunner()


async def _invoke(args: list[str], database_url: str, tmp_path: Path) -> str:
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": "x" * 40}
    result = await asyncio.to_thread(runner.invoke, app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_wg_art_13_yearly_evaluation_grades_everyone_and_a_second_run_changes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(database_url)
    orgs = [await factories.organization(engine) for _ in range(5)]
    await factories.record(engine, orgs[0]["id"], decided_on=date(2026, 6, 1))
    first = await _invoke(["evaluate", "--as-of", "2026-11-21", "--batch", "2"], database_url, tmp_path)
    assert "evaluated 5 subjects" in first and "grades changed for 5" in first
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(sa.func.count()).select_from(grades))).scalar_one()
        level = (
            await conn.execute(
                sa.select(grades.c.level).where(
                    grades.c.subject_id == orgs[0]["id"],
                    grades.c.valid_from <= date(2026, 11, 21),
                    sa.or_(grades.c.valid_to.is_(None), grades.c.valid_to > date(2026, 11, 21)),
                )
            )
        ).scalar_one()
    assert level == "C"
    second = await _invoke(["evaluate", "--as-of", "2026-11-21"], database_url, tmp_path)
    assert "grades changed for 0, restrictions for 0" in second
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(grades))).scalar_one() == rows
    await engine.dispose()


async def test_holiday_table_loads_a_year_the_calendar_does_not_know(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "2031.csv"
    csv.write_text(
        "day,working_day,note\n2031-10-01,0,国庆节\n2031-10-02,休,国庆节\n2031-09-28,1,调休上班\n", encoding="utf-8"
    )
    output = await _invoke(["holidays", "load", str(csv)], database_url, tmp_path)
    assert "loaded 3 days for [2031]" in output
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        days = dict((await conn.execute(sa.select(holidays.c.day, holidays.c.working_day))).all())
        years = (await conn.execute(sa.select(holiday_years.c.year))).scalars().all()
    await engine.dispose()
    assert days == {date(2031, 10, 1): False, date(2031, 10, 2): False, date(2031, 9, 28): True}
    assert years == [2031]


async def test_holiday_file_with_a_bad_row_is_refused_naming_the_line(database_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("2031-10-01,0\n2031-13-01,0\n", encoding="utf-8")
    env = {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path)}
    result = await asyncio.to_thread(runner.invoke, app, ["holidays", "load", str(csv)], env=env)
    assert result.exit_code == 2
    assert "bad.csv:2" in result.output
