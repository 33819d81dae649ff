"""Rules in force on a date: jurisdiction packs (domain/rules.py)."""

from __future__ import annotations

from datetime import date

from domain.model import MOHRSS_45, NDRC_2023, NDRC_2025, SH, WAGE_REGULATION, WG
from domain.rules import (
    DEMO_PACK,
    NDRC_2023_PACK,
    NDRC_2025_PACK,
    SH_PACK,
    WG_PACK,
    RulePack,
    clip,
    grading_in_force,
    publicity_regime,
    restrictions_in_force,
)


def test_sh_art_15_in_force_from_2023_09_01_to_2028_08_31() -> None:
    assert SH_PACK.name == SH
    assert not restrictions_in_force(date(2023, 8, 31))
    assert restrictions_in_force(date(2023, 9, 1))
    assert restrictions_in_force(date(2023, 9, 2))
    assert restrictions_in_force(date(2028, 8, 30))
    assert restrictions_in_force(date(2028, 8, 31))
    assert not restrictions_in_force(date(2028, 9, 1))


def test_wg_art_22_grading_in_force_from_2022_12_15_without_end() -> None:
    assert WG_PACK.name == WG
    assert not grading_in_force(date(2022, 12, 14))
    assert grading_in_force(date(2022, 12, 15))
    assert grading_in_force(date(2022, 12, 16))
    assert grading_in_force(date(2040, 1, 1))


def test_ndrc_2025_36_replaces_ndrc_2023_58_on_2026_04_01() -> None:
    assert NDRC_2023_PACK.name == NDRC_2023 and NDRC_2025_PACK.name == NDRC_2025
    assert publicity_regime(date(2026, 3, 31)) is NDRC_2023_PACK
    assert publicity_regime(date(2026, 4, 1)) is NDRC_2025_PACK
    assert publicity_regime(date(2026, 4, 2)) is NDRC_2025_PACK
    # Records decided before NDRC 2023/58 came into force are judged by it too: there is no older regime.
    assert publicity_regime(date(2022, 6, 1)) is NDRC_2023_PACK
    assert NDRC_2023_PACK.effective_to == date(2026, 3, 31)


def test_sh_art_3_wg_art_2_demo_pack_is_sh_restrictions_wg_grades_and_the_national_rules() -> None:
    assert DEMO_PACK.restrictions is SH_PACK
    assert DEMO_PACK.grading is WG_PACK
    assert {p.name for p in DEMO_PACK.national} == {NDRC_2023, NDRC_2025, MOHRSS_45, WAGE_REGULATION}


def test_wg_art_2_a_pack_without_wg_grades_nothing() -> None:
    restrictions_only = RulePack("SH only", "上海市", SH_PACK.effective_from, restrictions=SH_PACK)
    assert not grading_in_force(date(2025, 1, 1), restrictions_only)
    assert restrictions_in_force(date(2025, 1, 1), restrictions_only)


def test_sh_art_15_clip_to_the_period_in_force() -> None:
    assert clip(SH_PACK, date(2022, 1, 1), None) == (date(2023, 9, 1), date(2028, 8, 31))
    assert clip(SH_PACK, date(2025, 1, 1), date(2026, 1, 1)) == (date(2025, 1, 1), date(2026, 1, 1))
    assert clip(SH_PACK, date(2022, 1, 1), date(2023, 8, 31)) is None
    assert clip(SH_PACK, date(2028, 9, 1), None) is None
    assert clip(SH_PACK, date(2028, 8, 31), None) == (date(2028, 8, 31), date(2028, 8, 31))


def test_sh_art_15_boundaries_are_the_first_day_in_and_the_first_day_out() -> None:
    assert list(SH_PACK.boundaries()) == [date(2023, 9, 1), date(2028, 9, 1)]
    assert list(WG_PACK.boundaries()) == [date(2022, 12, 15)]
