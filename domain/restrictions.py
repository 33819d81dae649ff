"""Joint punishment per sector (失信联合惩戒), SH art. 9 and SH art. 8(2)3 / WG art. 17(1), as a table.

``SECTOR_RULES`` holds one row per (trigger, measure): the trigger (a record type, or one of the named
situations below), the sectors restricted, the measure in the article's words, its citation and its exception.
``restrictions_for`` turns a subject's records (and its grade timeline) into restriction intervals: ``since`` …
``until`` inclusive, past and future, each citing its article and its source record. A rule applies only while its
regulation is in force in the deployment's pack (SH: 2023-09-01 … 2028-08-31), so intervals are clipped to it; the
national rules have no end date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from domain.grading import is_c_from_penalty
from domain.model import SH, WAGE_REGULATION, Citation, GradeSegment, Record, RestrictionDecision, SubjectFacts
from domain.periods import ONE_DAY
from domain.publicity import effect_interval, not_dishonesty_penalty, published_interval, wage_arrears_listing_end
from domain.rules import DEMO_PACK, RulePack, clip
from domain.supervision import WG_17_1
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordType, Sector, Severity, SubjectKind

# Triggers that are not a record type of the subject itself.
REPRESENTATIVE_IS_DEFAULTER = "REPRESENTATIVE_IS_JUDGMENT_DEFAULTER"  # SH art. 9(2)2, second case
C_GRADE_FROM_PENALTY = "C_GRADE_FROM_PENALTY"  # WG art. 17(1)
SERIOUS_DISHONESTY = "SERIOUS_DISHONESTY"  # SH art. 8(2)3, while the information is published


def _sh(article: str, short: str, text: str) -> Citation:
    return Citation(document=SH, article=article, text=text, short=short)


# The joint punishment of the wage-arrears list is imposed by national law, which SH art. 9(1) restates; SH art. 14
# gives national rules precedence, so it stands for the listing's whole term under the law, not only while SH is in
# force, and cites the law.
WAGE_48 = Citation(
    document=WAGE_REGULATION,
    article="第四十八条",
    short="SC 724 art. 48",
    text="用人单位拖欠农民工工资，情节严重或者造成严重不良社会影响的，有关部门应当将该用人单位及其法定代表人或者"
    "主要负责人、直接负责的主管人员和其他直接责任人员列入拖欠农民工工资失信联合惩戒对象名单，在政府资金支持、"
    "政府采购、招投标、融资贷款、市场准入、税收优惠、评优评先、交通出行等方面依法依规予以限制。",
)
SH_9_2_1 = _sh(
    "第九条第（二）项第1目",
    "SH art. 9(2)1",
    "对被人民法院认定的失信被执行人，实施以下限制措施："
    "1. 限制失信被执行人申请创业担保贷款及贴息、创业前担保贷款及贴息等融资扶持；",
)
SH_9_2_2 = _sh(
    "第九条第（二）项第2目",
    "SH art. 9(2)2",
    "对被人民法院认定的失信被执行人，实施以下限制措施："
    "2. 限制失信被执行人或者以失信被执行人作为法定代表人的单位申请成为青年（大学生）职业训练营、青年就业创业见习基地。"
    "限制失信被执行人申请上述社会保障资金支持中，就业帮扶、援助类的除外。",
)
SH_8_2_3 = _sh("第八条第（二）项第3目", "SH art. 8(2)3", "（二）惩戒措施主要包括：3. 限制适用告知承诺等简化程序；")

_DISHONESTY_TYPES = tuple(t for t, c in CATEGORY_OF.items() if c is RecordCategory.DISHONESTY)


@dataclass(frozen=True, slots=True)
class SectorRule:
    """One row: ``trigger`` restricts ``sectors`` with ``measure`` by ``citation``, except ``exception``.
    ``catalogue_types``: the record types the row is listed under in the published lists (三清单); by default the
    trigger itself."""

    trigger: RecordType | str
    sectors: tuple[Sector, ...]
    measure: str
    citation: Citation
    exception: str | None = None
    catalogue_types: tuple[RecordType, ...] = ()

    def listed_under(self) -> tuple[RecordType, ...]:
        if self.catalogue_types:
            return self.catalogue_types
        return (self.trigger,) if isinstance(self.trigger, RecordType) else ()


def _wage_arrears(sector: Sector, area: str) -> SectorRule:
    return SectorRule(RecordType.WAGE_ARREARS_BLACKLIST, (sector,), f"{area}方面依法依规予以限制", WAGE_48)


SECTOR_RULES: tuple[SectorRule, ...] = (
    # SC 724 art. 48 (restated by SH art. 9(1)): the wage-arrears blacklist, organizations and the individuals
    # listed with them.
    _wage_arrears(Sector.GOVERNMENT_FUNDING, "政府资金支持"),
    _wage_arrears(Sector.GOVERNMENT_PROCUREMENT, "政府采购"),
    _wage_arrears(Sector.BIDDING, "招投标"),
    _wage_arrears(Sector.FINANCING_LOANS, "融资贷款"),
    _wage_arrears(Sector.MARKET_ACCESS, "市场准入"),
    _wage_arrears(Sector.TAX_INCENTIVES, "税收优惠"),
    _wage_arrears(Sector.AWARDS, "评优评先"),
    _wage_arrears(Sector.TRAVEL, "交通出行"),
    # SH art. 9(2)1-2: a judgment defaulter (the subject itself).
    SectorRule(
        RecordType.JUDGMENT_DEFAULTER,
        (Sector.STARTUP_GUARANTEE_LOANS,),
        "限制申请创业担保贷款及贴息、创业前担保贷款及贴息等融资扶持",
        SH_9_2_1,
    ),
    SectorRule(
        RecordType.JUDGMENT_DEFAULTER,
        (Sector.YOUTH_INTERNSHIP_BASES,),
        "限制申请成为青年（大学生）职业训练营、青年就业创业见习基地",
        SH_9_2_2,
        exception="就业帮扶、援助类的社会保障资金支持除外",
    ),
    # SH art. 9(2)2: an organization whose legal representative is a judgment defaulter.
    SectorRule(
        REPRESENTATIVE_IS_DEFAULTER,
        (Sector.YOUTH_INTERNSHIP_BASES,),
        "限制以失信被执行人作为法定代表人的单位申请成为青年（大学生）职业训练营、青年就业创业见习基地",
        SH_9_2_2,
        catalogue_types=(RecordType.JUDGMENT_DEFAULTER,),
    ),
    # WG art. 17(1): a C grade caused by a penalty.
    SectorRule(
        C_GRADE_FROM_PENALTY,
        (Sector.COMMITMENT_APPROVAL,),
        "在办理行政许可过程中，根据实际情况减少对其采取承诺制审批等便利化措施的范围",
        WG_17_1,
        catalogue_types=(RecordType.ADMINISTRATIVE_PENALTY,),
    ),
    # SH art. 8(2)3: serious dishonesty, while it is in force.
    SectorRule(
        SERIOUS_DISHONESTY,
        (Sector.COMMITMENT_APPROVAL,),
        "限制适用告知承诺等简化程序",
        SH_8_2_3,
        catalogue_types=_DISHONESTY_TYPES,
    ),
)
"""SH art. 9, SH art. 8(2)3 and WG art. 17(1): who is restricted in which sector."""


class _Trigger(NamedTuple):
    """One occurrence of a trigger: the days it is in effect and the record behind it."""

    since: date
    until: date | None
    source: int | None
    disputed: bool


_Finder = Callable[[SubjectFacts, Sequence[Record], Sequence[GradeSegment]], list[_Trigger]]


def _from_effect(records: Iterable[Record], record_type: RecordType) -> list[_Trigger]:
    """The records of ``record_type``, each while it is in effect (``effect_interval``)."""
    found = []
    for r in records:
        if r.type is record_type:
            interval = effect_interval(r)
            if interval is not None:
                found.append(_Trigger(interval[0], interval[1], r.id, r.disputed))
    return found


def _wage_arrears_listings(
    facts: SubjectFacts, records: Sequence[Record], segments: Sequence[GradeSegment]
) -> list[_Trigger]:
    """SC 724 art. 48 / SH art. 9(1): listed from the listing decision to the end of the listing (MOHRSS 45)."""
    found = []
    for r in records:
        if r.type is RecordType.WAGE_ARREARS_BLACKLIST:
            end = wage_arrears_listing_end(r)
            if end >= r.decided_on:
                found.append(_Trigger(r.decided_on, end, r.id, r.disputed))
    return found


def _defaulter(facts: SubjectFacts, records: Sequence[Record], segments: Sequence[GradeSegment]) -> list[_Trigger]:
    """SH art. 9(2): from the court's finding; open while the record is in effect, until the day before a repair."""
    return _from_effect(records, RecordType.JUDGMENT_DEFAULTER)


def _representative_defaulter(
    facts: SubjectFacts, records: Sequence[Record], segments: Sequence[GradeSegment]
) -> list[_Trigger]:
    """SH art. 9(2)2: an organization, for as long as its legal representative's defaulter record is in effect."""
    if facts.kind is not SubjectKind.ORGANIZATION:
        return []
    return _from_effect(facts.representative_records, RecordType.JUDGMENT_DEFAULTER)


def _c_from_penalty(facts: SubjectFacts, records: Sequence[Record], segments: Sequence[GradeSegment]) -> list[_Trigger]:
    """WG art. 17(1): each stretch of the grade timeline that is a C caused by a penalty (WG art. 12(1) or 21)."""
    found = []
    for s in segments:
        if is_c_from_penalty(s.decision):
            until = s.valid_to - ONE_DAY if s.valid_to is not None else None
            source = s.decision.basis[0] if s.decision.basis else None
            found.append(_Trigger(s.valid_from, until, source, s.decision.disputed))
    return found


def _serious_dishonesty(
    facts: SubjectFacts, records: Sequence[Record], segments: Sequence[GradeSegment]
) -> list[_Trigger]:
    """SH art. 8(2)3: serious dishonesty information (SH art. 5, last paragraph), while it is in force: a
    wage-arrears listing for its listing term, a court's defaulter listing while it is in effect (until the day
    before its removal), other information while it is published (its window, by default the longest allowed)."""
    found = []
    for r in records:
        if r.severity is not Severity.SERIOUS or CATEGORY_OF[r.type] is not RecordCategory.DISHONESTY:
            continue
        if not_dishonesty_penalty(r.type, r.severity, r.details):  # SH art. 5(2): not dishonesty information
            continue
        window: tuple[date, date | None] | None
        if r.type is RecordType.WAGE_ARREARS_BLACKLIST:
            end = wage_arrears_listing_end(r)
            window = (r.decided_on, end) if end >= r.decided_on else None
        elif r.type is RecordType.JUDGMENT_DEFAULTER and r.publicity_until is None:
            window = effect_interval(r)
        else:
            window = published_interval(r)
        if window is not None:
            found.append(_Trigger(window[0], window[1], r.id, r.disputed))
    return found


_FINDERS: dict[RecordType | str, _Finder] = {
    RecordType.WAGE_ARREARS_BLACKLIST: _wage_arrears_listings,
    RecordType.JUDGMENT_DEFAULTER: _defaulter,
    REPRESENTATIVE_IS_DEFAULTER: _representative_defaulter,
    C_GRADE_FROM_PENALTY: _c_from_penalty,
    SERIOUS_DISHONESTY: _serious_dishonesty,
}


_SECTOR_ORDER = {sector: i for i, sector in enumerate(Sector)}  # restrictions are listed in this order of sectors


def _regulation(document: str, pack: RulePack) -> RulePack | None:
    """The regulation of ``pack`` that issues ``document``'s rules, or None when the deployment does not use it."""
    for candidate in (pack.restrictions, pack.grading, *pack.national):
        if candidate is not None and candidate.name == document:
            return candidate
    return None


def restrictions_for(
    facts: SubjectFacts,
    records: Sequence[Record],
    *,
    grade_segments: Sequence[GradeSegment] = (),
    pack: RulePack = DEMO_PACK,
) -> list[RestrictionDecision]:
    """Every restriction interval the subject has, past and future (not filtered by date): SH art. 9, SH art. 8(2)3,
    WG art. 17(1). ``records`` are the subject's current records; ``grade_segments`` its grade timeline
    (organizations). Callers pick a day with ``RestrictionDecision.in_force_on``."""
    # Each trigger is looked for once: several rows share one (SH art. 9(1): eight sectors).
    occurrences = {trigger: finder(facts, records, grade_segments) for trigger, finder in _FINDERS.items()}
    found: list[RestrictionDecision] = []
    if not any(occurrences.values()):
        return found
    regulations: dict[str, RulePack | None] = {}
    for rule in SECTOR_RULES:
        triggers = occurrences[rule.trigger]
        if not triggers:
            continue
        document = rule.citation.document
        if document not in regulations:
            regulations[document] = _regulation(document, pack)
        regulation = regulations[document]
        if regulation is None:
            continue
        for trigger in triggers:
            clipped = clip(regulation, trigger.since, trigger.until)
            if clipped is None:
                continue
            since, until = clipped
            for sector in rule.sectors:
                found.append(
                    RestrictionDecision(
                        sector=sector,
                        measure=rule.measure,
                        legal_basis=rule.citation,
                        since=since,
                        until=until,
                        source_record_id=trigger.source,
                        exception=rule.exception,
                        disputed=trigger.disputed,
                    )
                )
    found.sort(key=lambda r: (r.since, _SECTOR_ORDER[r.sector], r.source_record_id or 0, r.legal_basis.article))
    return found


def sector_measures() -> list[tuple[Sector, RecordType, str, Citation]]:
    """The published lists (三清单): each sector, the record type that triggers it, the measure and its article."""
    rows: list[tuple[Sector, RecordType, str, Citation]] = []
    for rule in SECTOR_RULES:
        for sector in rule.sectors:
            for record_type in rule.listed_under():
                row = (sector, record_type, rule.measure, rule.citation)
                if row not in rows:
                    rows.append(row)
    return rows


def sector_rules_in_force(sector: Sector, day: date, pack: RulePack = DEMO_PACK) -> list[tuple[RulePack, SectorRule]]:
    """The rows of ``SECTOR_RULES`` that can restrict in ``sector`` on ``day``, each with the regulation that
    issues it: what a verdict for that sector and day was checked against (SH art. 15: a regulation applies only
    while it is in force)."""
    found = []
    for rule in SECTOR_RULES:
        if sector not in rule.sectors:
            continue
        regulation = _regulation(rule.citation.document, pack)
        if regulation is not None and regulation.in_force_on(day):
            found.append((regulation, rule))
    return found


__all__ = [
    "C_GRADE_FROM_PENALTY",
    "REPRESENTATIVE_IS_DEFAULTER",
    "SECTOR_RULES",
    "SERIOUS_DISHONESTY",
    "SH_8_2_3",
    "SH_9_2_1",
    "SH_9_2_2",
    "WAGE_48",
    "SectorRule",
    "restrictions_for",
    "sector_measures",
    "sector_rules_in_force",
]
