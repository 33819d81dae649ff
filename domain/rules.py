"""Rules in force on a date: jurisdiction packs (DESIGN.md "Rules in force on a date").

A ``RulePack`` is a body of rules with the jurisdiction it belongs to and the period it is in force. The leaf
packs are the regulations themselves (SH, WG, the national rules); a deployment pack composes them: which
regulation grades employers, which one restricts sectors, and the national rules that apply everywhere. The
engine asks the pack whether a rule is in force on the as-of date, so a past verdict is reproduced with the
rules of its day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from domain.model import MOHRSS_45, NDRC_2023, NDRC_2025, SH, WAGE_REGULATION, WG
from domain.periods import ONE_DAY


@dataclass(frozen=True, slots=True)
class RulePack:
    """A regulation, or a deployment composed of regulations, in force ``effective_from`` … ``effective_to``
    (both inclusive; ``effective_to`` None: no end date).

    ``grading`` / ``restrictions`` name the regulation a deployment uses for grades (WG art. 8-21) and for
    sector restrictions (SH art. 8-9); ``national`` the national rules applied everywhere.
    """

    name: str
    jurisdiction: str
    effective_from: date
    effective_to: date | None = None
    short: str = ""
    grading: RulePack | None = None
    restrictions: RulePack | None = None
    national: tuple[RulePack, ...] = ()

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def boundaries(self) -> Iterator[date]:
        """The days on which this pack comes into or goes out of force (the day after ``effective_to``)."""
        yield self.effective_from
        if self.effective_to is not None:
            yield self.effective_to + ONE_DAY


SH_PACK = RulePack(
    name=SH,
    jurisdiction="上海市",
    effective_from=date(2023, 9, 1),  # SH art. 15
    effective_to=date(2028, 8, 31),  # SH art. 15: 有效期至2028年8月31日
    short="SH",
)
WG_PACK = RulePack(
    name=WG,
    jurisdiction="河南省舞钢市",
    effective_from=date(2022, 12, 15),  # WG art. 22: 自文件印发之日起施行 (印发 2022-12-15)
    short="WG",
)
NDRC_2023_PACK = RulePack(
    name=NDRC_2023,
    jurisdiction="全国",
    effective_from=date(2023, 5, 1),
    effective_to=date(2026, 3, 31),  # replaced by NDRC_2025
    short="NDRC 2023/58",
)
NDRC_2025_PACK = RulePack(
    name=NDRC_2025,
    jurisdiction="全国",
    effective_from=date(2026, 4, 1),
    short="NDRC 2025/36",
)
MOHRSS_45_PACK = RulePack(
    name=MOHRSS_45,
    jurisdiction="全国",
    effective_from=date(2022, 1, 1),
    short="MOHRSS 45",
)
WAGE_REGULATION_PACK = RulePack(
    name=WAGE_REGULATION,
    jurisdiction="全国",
    effective_from=date(2020, 5, 1),  # 第六十四条: 本条例自2020年5月1日起施行
    short="SC 724",
)
NATIONAL = (NDRC_2023_PACK, NDRC_2025_PACK, MOHRSS_45_PACK, WAGE_REGULATION_PACK)

DEMO_PACK = RulePack(
    name="演示部署：上海市联合惩戒 + 舞钢市信用等级评价 + 国家规定",
    jurisdiction="演示",
    effective_from=WG_PACK.effective_from,
    short="DEMO",
    grading=WG_PACK,
    restrictions=SH_PACK,
    national=NATIONAL,
)
"""The demo deployment (DESIGN.md): SH restrictions + WG grades + the national rules."""


def grading_in_force(day: date, pack: RulePack = DEMO_PACK) -> bool:
    """WG art. 22: grades exist from the day the grading regulation is in force (舞钢 2022-12-15)."""
    return pack.grading is not None and pack.grading.in_force_on(day)


def restrictions_in_force(day: date, pack: RulePack = DEMO_PACK) -> bool:
    """SH art. 15: the sector restrictions of SH art. 8-9 apply 2023-09-01 … 2028-08-31."""
    return pack.restrictions is not None and pack.restrictions.in_force_on(day)


def clip(pack: RulePack, since: date, until: date | None) -> tuple[date, date | None] | None:
    """The part of the interval ``since`` … ``until`` (inclusive; None: open) in which ``pack`` is in force,
    or None when they do not overlap."""
    start = max(since, pack.effective_from)
    end = until
    if pack.effective_to is not None:
        end = pack.effective_to if end is None else min(end, pack.effective_to)
    if end is not None and end < start:
        return None
    return start, end


def publicity_regime(decided_on: date) -> RulePack:
    """The national repair rule that governs a record's publicity window and repair: the one in force on the day
    of the deciding document. NDRC 2025/36 from 2026-04-01; before that NDRC 2023/58 (also for records decided
    before 2023-05-01, for which the system has no older regime)."""
    return NDRC_2025_PACK if NDRC_2025_PACK.in_force_on(decided_on) else NDRC_2023_PACK
