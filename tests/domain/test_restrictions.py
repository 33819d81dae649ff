"""Joint punishment per sector, SH art. 9, SH art. 8(2)3, WG art. 17(1) (domain/restrictions.py)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.grading import grade_timeline
from domain.model import SH, WAGE_REGULATION, WG, Record, RestrictionDecision, SubjectFacts
from domain.periods import add_years
from domain.restrictions import SECTOR_RULES, restrictions_for, sector_measures, sector_rules_in_force
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordStatus, RecordType, Sector, Severity, SubjectKind
from domain.workdays import WorkCalendar

ONE = timedelta(days=1)
CAL = WorkCalendar()
ORG = SubjectFacts(id=1, kind=SubjectKind.ORGANIZATION)
PERSON = SubjectFacts(id=2, kind=SubjectKind.INDIVIDUAL)
WAGE_ARREARS_SECTORS = {
    Sector.GOVERNMENT_FUNDING,
    Sector.GOVERNMENT_PROCUREMENT,
    Sector.BIDDING,
    Sector.FINANCING_LOANS,
    Sector.MARKET_ACCESS,
    Sector.TAX_INCENTIVES,
    Sector.AWARDS,
    Sector.TRAVEL,
}
_ids = itertools.count(1000)


def rec(
    type_: RecordType,
    decided_on: date,
    *,
    severity: Severity | None = None,
    status: RecordStatus = RecordStatus.ACTIVE,
    subject_id: int = 1,
    **kw: Any,
) -> Record:
    if severity is None and CATEGORY_OF[type_] is RecordCategory.DISHONESTY:
        severity = Severity.GENERAL
    return Record(
        id=next(_ids),
        subject_id=subject_id,
        type=type_,
        severity=severity,
        status=status,
        decided_on=decided_on,
        details=MappingProxyType({}),
        **kw,
    )


def listing(decided_on: date, **kw: Any) -> Record:
    return rec(RecordType.WAGE_ARREARS_BLACKLIST, decided_on, severity=Severity.SERIOUS, **kw)


def defaulter(decided_on: date, **kw: Any) -> Record:
    return rec(RecordType.JUDGMENT_DEFAULTER, decided_on, severity=Severity.SERIOUS, **kw)


def in_sector(found: list[RestrictionDecision], sector: Sector) -> list[RestrictionDecision]:
    return [r for r in found if r.sector is sector]


def restricted(found: list[RestrictionDecision], sector: Sector, day: date) -> bool:
    return any(r.in_force_on(day) for r in in_sector(found, sector))


# --- SH art. 9(1): the wage-arrears blacklist --------------------------------------------------------------------


def test_sh_art_9_1_wage_arrears_blacklist_restricts_the_eight_sectors_citing_the_national_law() -> None:
    """SH art. 9(1) restates SC 724 art. 48, which imposes the measure; SH art. 14: the national rule prevails."""
    r = listing(date(2025, 1, 2))
    found = restrictions_for(ORG, [r])
    by_article = [x for x in found if x.legal_basis.article == "第四十八条"]
    assert {x.sector for x in by_article} == WAGE_ARREARS_SECTORS
    for x in by_article:
        assert x.legal_basis.document == WAGE_REGULATION and x.legal_basis.short == "SC 724 art. 48"
        assert x.since == date(2025, 1, 2) and x.until == add_years(date(2025, 1, 2), 3)
        assert x.source_record_id == r.id and not x.disputed
        assert x.measure.endswith("方面依法依规予以限制")
    procurement = in_sector(found, Sector.GOVERNMENT_PROCUREMENT)[0]
    assert procurement.measure == "政府采购方面依法依规予以限制"


def test_sh_art_9_1_applies_to_individuals_listed_with_the_employer() -> None:
    r = listing(date(2025, 1, 2), subject_id=2)
    assert {x.sector for x in restrictions_for(PERSON, [r])} >= WAGE_ARREARS_SECTORS


def test_sh_art_9_1_restriction_lasts_the_three_year_listing() -> None:
    found = restrictions_for(ORG, [listing(date(2025, 1, 2))])
    end = date(2028, 1, 2)
    assert not restricted(found, Sector.BIDDING, date(2025, 1, 1))
    assert restricted(found, Sector.BIDDING, date(2025, 1, 2))
    assert restricted(found, Sector.BIDDING, end - ONE)
    assert restricted(found, Sector.BIDDING, end)
    assert not restricted(found, Sector.BIDDING, end + ONE)


def test_sh_art_9_1_early_removal_ends_the_restriction_the_day_before() -> None:
    r = listing(
        date(2025, 1, 2),
        status=RecordStatus.REPAIRED,
        status_changed_on=date(2026, 2, 1),
        corrected_on=date(2025, 6, 1),
    )
    found = restrictions_for(ORG, [r])
    assert {x.until for x in in_sector(found, Sector.TRAVEL)} == {date(2026, 1, 31)}
    assert restricted(found, Sector.TRAVEL, date(2026, 1, 31))
    assert not restricted(found, Sector.TRAVEL, date(2026, 2, 1))


def test_sh_art_9_revoked_record_restricts_nothing() -> None:
    records = [
        listing(date(2025, 1, 2), status=RecordStatus.REVOKED, status_changed_on=date(2025, 3, 1)),
        defaulter(date(2025, 1, 2), status=RecordStatus.REVOKED, status_changed_on=date(2025, 3, 1)),
    ]
    assert restrictions_for(ORG, records) == []


# --- SH art. 9(2): judgment defaulters ----------------------------------------------------------------------------


def test_sh_art_9_2_1_defaulter_restricted_in_startup_guarantee_loans_until_lifted() -> None:
    r = defaulter(date(2025, 5, 6), subject_id=2)
    found = in_sector(restrictions_for(PERSON, [r]), Sector.STARTUP_GUARANTEE_LOANS)
    assert len(found) == 1
    x = found[0]
    assert x.legal_basis.article == "第九条第（二）项第1目"
    assert x.measure == "限制申请创业担保贷款及贴息、创业前担保贷款及贴息等融资扶持"
    assert x.since == date(2025, 5, 6) and x.until == date(2028, 8, 31)  # open, clipped at SH's end
    assert x.source_record_id == r.id


def test_sh_art_9_2_2_defaulter_restricted_as_youth_internship_base_except_employment_assistance() -> None:
    r = defaulter(date(2025, 5, 6))
    (x,) = in_sector(restrictions_for(ORG, [r]), Sector.YOUTH_INTERNSHIP_BASES)
    assert x.legal_basis.article == "第九条第（二）项第2目" and x.legal_basis.short == "SH art. 9(2)2"
    assert x.exception == "就业帮扶、援助类的社会保障资金支持除外"
    assert x.source_record_id == r.id


def test_sh_art_9_2_repaired_defaulter_restriction_ends_the_day_before_the_repair() -> None:
    r = defaulter(date(2025, 5, 6), status=RecordStatus.REPAIRED, status_changed_on=date(2026, 1, 10))
    found = restrictions_for(PERSON, [r])
    assert {x.until for x in found} == {date(2026, 1, 9)}
    assert restricted(found, Sector.STARTUP_GUARANTEE_LOANS, date(2026, 1, 9))
    assert not restricted(found, Sector.STARTUP_GUARANTEE_LOANS, date(2026, 1, 10))


def test_sh_art_9_2_2_organization_whose_representative_is_defaulter() -> None:
    rep_record = defaulter(date(2025, 5, 6), subject_id=7)
    org = SubjectFacts(id=1, kind=SubjectKind.ORGANIZATION, representative_records=(rep_record,))
    found = restrictions_for(org, [])
    assert len(found) == 1
    (x,) = found
    assert x.sector is Sector.YOUTH_INTERNSHIP_BASES
    assert x.legal_basis.article == "第九条第（二）项第2目"
    assert x.source_record_id == rep_record.id
    assert (x.since, x.until) == (date(2025, 5, 6), date(2028, 8, 31))
    assert "法定代表人" in x.measure


def test_sh_art_9_2_2_representative_rule_follows_the_representatives_record() -> None:
    rep_record = defaulter(
        date(2025, 5, 6), subject_id=7, status=RecordStatus.UNDER_OBJECTION, corrected_on=None, status_changed_on=None
    )
    org = SubjectFacts(id=1, kind=SubjectKind.ORGANIZATION, representative_records=(rep_record,))
    (x,) = restrictions_for(org, [])
    assert x.disputed
    repaired = defaulter(
        date(2025, 5, 6), subject_id=7, status=RecordStatus.REPAIRED, status_changed_on=date(2026, 3, 1)
    )
    org = SubjectFacts(id=1, kind=SubjectKind.ORGANIZATION, representative_records=(repaired,))
    (x,) = restrictions_for(org, [])
    assert x.until == date(2026, 2, 28)


def test_sh_art_9_2_2_representative_rule_is_for_organizations_only() -> None:
    person = SubjectFacts(id=2, kind=SubjectKind.INDIVIDUAL, representative_records=(defaulter(date(2025, 5, 6)),))
    assert restrictions_for(person, []) == []


# --- SH art. 15: only while SH is in force -------------------------------------------------------------------------


def test_sh_art_15_sh_measures_are_clipped_at_sh_end_2028_08_31() -> None:
    found = restrictions_for(ORG, [listing(date(2027, 1, 2))])
    sh_only = in_sector(found, Sector.COMMITMENT_APPROVAL)  # SH art. 8(2)3
    assert {(x.legal_basis.document, x.until) for x in sh_only} == {(SH, date(2028, 8, 31))}
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 8, 30))
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 8, 31))
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 9, 1))


def test_sh_art_14_the_national_wage_arrears_punishment_outlasts_sh() -> None:
    """A listing of 2026-11-01 runs to 2029-11-01 (MOHRSS 45); SC 724 art. 48 restricts for all of it, while SH art.
    8(2)3 ends with SH on 2028-08-31."""
    found = restrictions_for(ORG, [listing(date(2026, 11, 1))])
    bidding = in_sector(found, Sector.BIDDING)
    assert [(x.legal_basis.short, x.since, x.until) for x in bidding] == [
        ("SC 724 art. 48", date(2026, 11, 1), date(2029, 11, 1))
    ]
    for day in (date(2028, 8, 31), date(2028, 9, 1), date(2029, 11, 1)):
        assert restricted(found, Sector.BIDDING, day)
        assert restricted(found, Sector.TRAVEL, day)
    assert not restricted(found, Sector.BIDDING, date(2029, 11, 2))
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 9, 1))


def test_sh_art_14_a_listing_before_sh_is_restricted_from_its_own_decision() -> None:
    found = restrictions_for(ORG, [listing(date(2022, 3, 1))])
    assert {x.since for x in found if x.legal_basis.document == WAGE_REGULATION} == {date(2022, 3, 1)}
    assert not restricted(found, Sector.BIDDING, date(2022, 2, 28))
    assert restricted(found, Sector.BIDDING, date(2022, 3, 1))
    assert restricted(found, Sector.BIDDING, date(2023, 8, 31))
    # SH art. 8(2)3 only from SH's first day.
    assert {x.since for x in in_sector(found, Sector.COMMITMENT_APPROVAL)} == {date(2023, 9, 1)}
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2023, 8, 31))


def test_sh_art_15_intervals_wholly_outside_sh_are_dropped() -> None:
    assert restrictions_for(ORG, [defaulter(date(2028, 9, 1))]) == []
    before = restrictions_for(ORG, [listing(date(2019, 1, 2))])  # listing ended 2022-01-02
    assert before and all(x.legal_basis.document == WAGE_REGULATION for x in before)
    assert {x.since for x in before} == {date(2020, 5, 1)}  # SC 724 in force from 2020-05-01


# --- WG art. 17(1) and SH art. 8(2)3: commitment-based approval ----------------------------------------------------


def test_wg_art_17_1_commitment_approval_restricted_while_c_from_a_penalty() -> None:
    p = rec(RecordType.ADMINISTRATIVE_PENALTY, date(2025, 3, 10), corrected_on=date(2025, 6, 1), penalty_fulfilled=True)
    segments = grade_timeline([p], start=date(2022, 12, 15), end=date(2028, 12, 31), calendar=CAL)
    found = in_sector(restrictions_for(ORG, [p], grade_segments=segments), Sector.COMMITMENT_APPROVAL)
    assert all(x.legal_basis.document == WG and x.legal_basis.article == "第十七条第（一）项" for x in found)
    assert all(x.source_record_id == p.id for x in found)
    raised = CAL.next_working_day(date(2027, 1, 1)).day
    assert [(x.since, x.until) for x in found] == [
        (date(2025, 3, 10), date(2026, 3, 10)),  # WG art. 12(1)
        (date(2026, 3, 11), raised - ONE),  # kept by WG art. 21
    ]
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2025, 3, 9))
    assert restricted(found, Sector.COMMITMENT_APPROVAL, raised - ONE)
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, raised)


def test_wg_art_17_1_open_c_segment_gives_an_open_restriction() -> None:
    p = rec(RecordType.ADMINISTRATIVE_PENALTY, date(2025, 3, 10))  # never corrected: C for good (WG art. 21)
    segments = grade_timeline([p], start=date(2022, 12, 15), end=date(2028, 12, 31), calendar=CAL)
    found = in_sector(restrictions_for(ORG, [p], grade_segments=segments), Sector.COMMITMENT_APPROVAL)
    assert found[-1].until is None  # WG art. 17 is not clipped by SH's period


def test_wg_art_17_2_blacklist_c_draws_no_commitment_restriction_of_art_17_1() -> None:
    r = listing(date(2025, 1, 2))
    segments = grade_timeline([r], start=date(2022, 12, 15), end=date(2028, 12, 31), calendar=CAL)
    found = restrictions_for(ORG, [r], grade_segments=segments)
    assert not [x for x in found if x.legal_basis.document == WG]


def test_sh_art_8_2_3_serious_dishonesty_restricts_simplified_procedures_while_published() -> None:
    r = rec(RecordType.FALSE_MATERIALS, date(2026, 5, 1), severity=Severity.SERIOUS, publicity_until=date(2027, 5, 1))
    found = in_sector(restrictions_for(PERSON, [r]), Sector.COMMITMENT_APPROVAL)
    (x,) = found
    assert x.legal_basis.article == "第八条第（二）项第3目" and x.measure == "限制适用告知承诺等简化程序"
    assert (x.since, x.until, x.source_record_id) == (date(2026, 5, 1), date(2027, 5, 1), r.id)
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2027, 4, 30))
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2027, 5, 1))
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2027, 5, 2))


def test_sh_art_8_2_3_general_dishonesty_does_not_restrict() -> None:
    general = rec(RecordType.FALSE_MATERIALS, date(2026, 5, 1), publicity_until=date(2026, 11, 1))
    assert restrictions_for(PERSON, [general]) == []


def test_sh_art_8_2_3_serious_dishonesty_without_a_window_restricts_for_the_longest_window() -> None:
    """NDRC 2025/36: without a window, serious information is published for the maximum, 3 years."""
    r = rec(RecordType.BROKEN_COMMITMENT, date(2026, 5, 1), severity=Severity.SERIOUS)
    found = in_sector(restrictions_for(PERSON, [r]), Sector.COMMITMENT_APPROVAL)
    assert [(x.since, x.until) for x in found] == [(date(2026, 5, 1), date(2028, 8, 31))]  # clipped at SH's end
    early = rec(RecordType.BROKEN_COMMITMENT, date(2024, 5, 1), severity=Severity.SERIOUS)
    found = in_sector(restrictions_for(PERSON, [early]), Sector.COMMITMENT_APPROVAL)
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2027, 5, 1))
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2027, 5, 2))


def test_sh_art_8_2_3_reaches_a_wage_arrears_listing_without_a_window() -> None:
    found = restrictions_for(ORG, [listing(date(2025, 1, 2))])
    (x,) = in_sector(found, Sector.COMMITMENT_APPROVAL)
    assert x.legal_basis.article == "第八条第（二）项第3目"
    assert (x.since, x.until) == (date(2025, 1, 2), date(2028, 1, 2))  # the listing term (MOHRSS 45)
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2025, 1, 1))
    assert restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 1, 2))
    assert not restricted(found, Sector.COMMITMENT_APPROVAL, date(2028, 1, 3))


def test_sh_art_8_2_3_reaches_a_defaulter_while_it_is_in_effect() -> None:
    r = defaulter(date(2025, 5, 6), status=RecordStatus.REPAIRED, status_changed_on=date(2026, 6, 1))
    (x,) = in_sector(restrictions_for(ORG, [r]), Sector.COMMITMENT_APPROVAL)
    assert (x.since, x.until) == (date(2025, 5, 6), date(2026, 5, 31))


def test_sh_art_10_restriction_from_a_record_under_objection_is_disputed() -> None:
    r = listing(date(2025, 1, 2), status=RecordStatus.UNDER_OBJECTION)
    found = restrictions_for(ORG, [r])
    assert found and all(x.disputed for x in found)


# --- SH art. 7: the published lists (三清单) ----------------------------------------------------------------------


def test_sh_art_7_sector_measures_list_every_sector_with_its_trigger_and_article() -> None:
    rows = sector_measures()
    assert {s for s, _, _, _ in rows} == set(Sector)
    assert (
        Sector.GOVERNMENT_PROCUREMENT,
        RecordType.WAGE_ARREARS_BLACKLIST,
        "政府采购方面依法依规予以限制",
    ) in {(s, t, m) for s, t, m, _ in rows}
    assert {(t, c.short) for s, t, _, c in rows if s is Sector.STARTUP_GUARANTEE_LOANS} == {
        (RecordType.JUDGMENT_DEFAULTER, "SH art. 9(2)1")
    }
    assert len(rows) == len(set(rows))


def test_sh_art_9_sector_rules_table_cites_an_article_for_every_row() -> None:
    for rule in SECTOR_RULES:
        assert rule.citation.document in (SH, WG, WAGE_REGULATION) and rule.citation.article and rule.citation.text
        assert rule.sectors and rule.measure


# --- Property: in_force_on agrees with since/until -----------------------------------------------------------------


@st.composite
def records(draw: st.DrawFn) -> list[Record]:
    out = []
    for i in range(draw(st.integers(0, 5))):
        type_ = draw(st.sampled_from([RecordType.WAGE_ARREARS_BLACKLIST, RecordType.JUDGMENT_DEFAULTER]))
        decided = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2029, 12, 31)))
        status = draw(st.sampled_from(list(RecordStatus)))
        changed = draw(st.dates(min_value=decided, max_value=decided + timedelta(days=1500)))
        out.append(
            Record(
                id=i + 1,
                subject_id=1,
                type=type_,
                severity=draw(st.sampled_from(list(Severity))),
                status=status,
                decided_on=decided,
                publicity_until=draw(st.none() | st.dates(min_value=decided, max_value=decided + timedelta(days=1200))),
                status_changed_on=changed,
            )
        )
    return out


@settings(deadline=None)
@given(records(), records(), st.dates(min_value=date(2019, 1, 1), max_value=date(2035, 12, 31)))
def test_sh_art_9_in_force_on_is_consistent_with_since_and_until(
    own: list[Record], representative: list[Record], day: date
) -> None:
    facts = SubjectFacts(id=1, kind=SubjectKind.ORGANIZATION, representative_records=tuple(representative))
    for x in restrictions_for(facts, own):
        assert x.until is None or x.since <= x.until
        assert x.until is not None
        if x.legal_basis.document == SH:
            assert date(2023, 9, 1) <= x.since and x.until <= date(2028, 8, 31)
        else:
            assert x.legal_basis.document == WAGE_REGULATION and date(2020, 5, 1) <= x.since
        assert x.in_force_on(day) == (x.since <= day <= x.until)
        assert x.in_force_on(x.since) and x.in_force_on(x.until)
        assert not x.in_force_on(x.since - ONE) and not x.in_force_on(x.until + ONE)


def test_sh_art_5_2_a_penalty_whose_harm_was_eliminated_draws_no_sh_art_8_2_3_restriction() -> None:
    """Not dishonesty information (SH art. 5(2), second exception), even when its severity is serious."""
    r = Record(
        id=next(_ids),
        subject_id=1,
        type=RecordType.ADMINISTRATIVE_PENALTY,
        severity=Severity.SERIOUS,
        status=RecordStatus.ACTIVE,
        decided_on=date(2026, 5, 1),
        details=MappingProxyType({"harm_eliminated": True}),
    )
    assert in_sector(restrictions_for(ORG, [r]), Sector.COMMITMENT_APPROVAL) == []
    counted = Record(**{**{f: getattr(r, f) for f in ("id", "subject_id", "type", "severity", "status", "decided_on")}})
    assert in_sector(restrictions_for(ORG, [counted]), Sector.COMMITMENT_APPROVAL)  # without it: restricted


def test_the_rules_in_force_for_a_sector_follow_the_regulations_periods() -> None:
    """SH art. 15: SH's rows apply 2023-09-01 … 2028-08-31; the national law's (SC 724 art. 48) throughout."""

    def articles(sector: Sector, day: date) -> list[tuple[str, str]]:
        return [(r.name, rule.citation.article) for r, rule in sector_rules_in_force(sector, day)]

    assert articles(Sector.GOVERNMENT_PROCUREMENT, date(2026, 11, 21)) == [(WAGE_REGULATION, "第四十八条")]
    assert articles(Sector.YOUTH_INTERNSHIP_BASES, date(2026, 11, 21)) == [
        (SH, "第九条第（二）项第2目"),
        (SH, "第九条第（二）项第2目"),
    ]
    assert articles(Sector.YOUTH_INTERNSHIP_BASES, date(2023, 8, 31)) == []
    assert articles(Sector.YOUTH_INTERNSHIP_BASES, date(2028, 9, 1)) == []
    assert {d for d, _ in articles(Sector.COMMITMENT_APPROVAL, date(2026, 11, 21))} == {WG, SH}
