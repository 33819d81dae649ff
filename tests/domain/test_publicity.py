"""Publication, repair and the wage-arrears listing term: NDRC 2025/36, NDRC 2023/58, MOHRSS 45, SH art. 5 and 11
(domain/publicity.py)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from domain.model import Record
from domain.periods import add_months, add_years
from domain.publicity import (
    COMMITMENT_MISSING,
    LISTING_ENDED,
    MINIMUM_PUBLICITY,
    NOT_CORRECTED,
    NOT_REPAIRABLE,
    PENALTY_NOT_FULFILLED,
    SIX_MONTHS,
    WAGES_NOT_PAID,
    counts_on,
    early_removal_refusal,
    is_published,
    publication_end,
    publication_refusal,
    publicity_bounds,
    published_interval,
    repair_refusal,
    wage_arrears_listing_end,
)
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordStatus, RecordType, Severity

ONE = timedelta(days=1)
NEW = date(2026, 5, 10)  # decided under NDRC 2025/36
OLD = date(2025, 5, 10)  # decided under NDRC 2023/58
_ids = itertools.count(1)


def rec(
    type_: RecordType = RecordType.ADMINISTRATIVE_PENALTY,
    decided_on: date = NEW,
    *,
    severity: Severity | None = Severity.GENERAL,
    status: RecordStatus = RecordStatus.ACTIVE,
    **kw: Any,
) -> Record:
    if CATEGORY_OF[type_] is not RecordCategory.DISHONESTY:
        severity = None
    return Record(
        id=next(_ids),
        subject_id=1,
        type=type_,
        severity=severity,
        status=status,
        decided_on=decided_on,
        details=MappingProxyType({}),
        **kw,
    )


def fixed(decided_on: date = NEW, **kw: Any) -> Record:
    """A penalty corrected and fulfilled soon after the decision."""
    return rec(decided_on=decided_on, corrected_on=decided_on + timedelta(days=10), penalty_fulfilled=True, **kw)


def refusal(
    severity: Severity, decided_on: date, until: date | None, type_: RecordType = RecordType.FALSE_MATERIALS
) -> str | None:
    return publication_refusal(type_, severity, decided_on, until)


# --- Publicity windows ----------------------------------------------------------------------------------------------


def test_ndrc_2025_36_general_publicity_at_least_3_months_at_most_1_year() -> None:
    low, high = add_months(NEW, 3), add_months(NEW, 12)
    assert publicity_bounds(Severity.GENERAL, NEW) == (low, high)
    assert refusal(Severity.GENERAL, NEW, low - ONE) is not None
    assert refusal(Severity.GENERAL, NEW, low) is None
    assert refusal(Severity.GENERAL, NEW, low + ONE) is None
    assert refusal(Severity.GENERAL, NEW, high - ONE) is None
    assert refusal(Severity.GENERAL, NEW, high) is None
    assert "at most until 2027-05-10" in (refusal(Severity.GENERAL, NEW, high + ONE) or "")


def test_ndrc_2025_36_serious_publicity_at_least_1_year_at_most_3_years() -> None:
    low, high = add_years(NEW, 1), add_years(NEW, 3)
    assert publicity_bounds(Severity.SERIOUS, NEW) == (low, high)
    assert refusal(Severity.SERIOUS, NEW, low - ONE) is not None
    assert refusal(Severity.SERIOUS, NEW, low) is None
    assert refusal(Severity.SERIOUS, NEW, high) is None
    assert refusal(Severity.SERIOUS, NEW, high + ONE) is not None


def test_ndrc_2025_36_minor_not_published_or_at_most_3_months() -> None:
    high = add_months(NEW, 3)
    assert publicity_bounds(Severity.MINOR, NEW) == (NEW, high)
    assert refusal(Severity.MINOR, NEW, None) is None
    assert refusal(Severity.MINOR, NEW, NEW) is None
    assert refusal(Severity.MINOR, NEW, high - ONE) is None
    assert refusal(Severity.MINOR, NEW, high) is None
    assert refusal(Severity.MINOR, NEW, high + ONE) is not None


def test_ndrc_2023_58_minor_dishonesty_is_not_published() -> None:
    assert publicity_bounds(Severity.MINOR, OLD) is None
    assert refusal(Severity.MINOR, OLD, None) is None
    assert refusal(Severity.MINOR, OLD, OLD + timedelta(days=30)) is not None


def test_ndrc_2023_58_general_and_serious_windows() -> None:
    assert publicity_bounds(Severity.GENERAL, OLD) == (add_months(OLD, 3), add_months(OLD, 12))
    assert publicity_bounds(Severity.SERIOUS, OLD) == (add_years(OLD, 1), add_years(OLD, 3))


def test_ndrc_2025_36_regime_is_chosen_by_the_decision_date() -> None:
    assert publicity_bounds(Severity.MINOR, date(2026, 3, 31)) is None
    assert publicity_bounds(Severity.MINOR, date(2026, 4, 1)) == (date(2026, 4, 1), date(2026, 7, 1))


def test_sh_art_5_2_minor_administrative_penalty_is_not_published() -> None:
    reason = publication_refusal(RecordType.ADMINISTRATIVE_PENALTY, Severity.MINOR, NEW, NEW + timedelta(days=30))
    assert reason is not None and "SH art. 5(2)" in reason
    assert publication_refusal(RecordType.ADMINISTRATIVE_PENALTY, Severity.MINOR, NEW, None) is None


def test_wg_art_5_basic_and_enhancing_records_have_no_bounds() -> None:
    assert publicity_bounds(None, NEW) is None
    far = add_years(NEW, 10)
    assert publication_refusal(RecordType.AWARD, None, NEW, far) is None
    assert publication_refusal(RecordType.VIOLATION_CORRECTED, None, NEW, far) is None


def test_sh_art_9_2_court_defaulter_list_follows_the_courts_rules() -> None:
    assert publication_refusal(RecordType.JUDGMENT_DEFAULTER, Severity.SERIOUS, NEW, add_years(NEW, 5)) is None


def test_sh_art_9_2_defaulter_repair_follows_the_courts_removal_without_a_minimum_window() -> None:
    r = rec(RecordType.JUDGMENT_DEFAULTER, severity=Severity.SERIOUS, corrected_on=NEW + timedelta(days=5))
    assert repair_refusal(r, NEW + timedelta(days=6), commitment=True) is None


def test_ndrc_2025_36_window_cannot_end_before_the_decision() -> None:
    assert publication_refusal(RecordType.AWARD, None, NEW, NEW - ONE) is not None


def test_ndrc_2025_36_published_inside_the_window_and_neither_repaired_nor_revoked() -> None:
    assert is_published("ACTIVE", NEW, NEW + timedelta(days=90), NEW)
    assert is_published("UNDER_OBJECTION", NEW, NEW + timedelta(days=90), NEW + timedelta(days=90))
    assert not is_published("ACTIVE", NEW, NEW + timedelta(days=90), NEW + timedelta(days=91))
    assert not is_published("ACTIVE", NEW, None, NEW)
    assert not is_published("REPAIRED", NEW, NEW + timedelta(days=90), NEW)
    assert not is_published("REVOKED", NEW, NEW + timedelta(days=90), NEW)


def test_ndrc_2025_36_repair_ends_publication_at_once_and_history_is_kept() -> None:
    r = rec(publicity_until=add_months(NEW, 12), status=RecordStatus.REPAIRED, status_changed_on=date(2026, 10, 1))
    assert published_interval(r) == (NEW, date(2026, 9, 30))
    assert counts_on(r, date(2026, 9, 30)) and not counts_on(r, date(2026, 10, 1))
    revoked = rec(publicity_until=add_months(NEW, 12), status=RecordStatus.REVOKED, status_changed_on=date(2026, 10, 1))
    assert published_interval(revoked) is None and not counts_on(revoked, NEW)


# --- Repair -------------------------------------------------------------------------------------------------------


def test_ndrc_2025_36_general_repair_only_after_the_minimum_window() -> None:
    r = fixed()
    last = add_months(NEW, 3)
    refused = repair_refusal(r, last - ONE, commitment=True)
    assert refused is not None and refused.condition == MINIMUM_PUBLICITY and refused.earliest == last + ONE
    refused = repair_refusal(r, last, commitment=True)
    assert refused is not None and refused.condition == MINIMUM_PUBLICITY
    assert repair_refusal(r, last + ONE, commitment=True) is None


def test_ndrc_2025_36_serious_repair_only_after_one_year() -> None:
    r = fixed(severity=Severity.SERIOUS)
    last = add_years(NEW, 1)
    refused = repair_refusal(r, last, commitment=True)
    assert refused is not None and refused.condition == MINIMUM_PUBLICITY and refused.earliest == last + ONE
    assert repair_refusal(r, last + ONE, commitment=True) is None


def test_ndrc_2025_36_minor_repair_has_no_minimum_window() -> None:
    r = fixed(severity=Severity.MINOR)
    assert repair_refusal(r, NEW + timedelta(days=10), commitment=True) is None


def test_sh_art_11_repair_needs_the_violation_corrected() -> None:
    r = rec(penalty_fulfilled=True)
    refused = repair_refusal(r, add_years(NEW, 1), commitment=True)
    assert refused is not None and refused.condition == NOT_CORRECTED and refused.earliest is None
    later = rec(corrected_on=add_years(NEW, 2), penalty_fulfilled=True)
    refused = repair_refusal(later, add_years(NEW, 1), commitment=True)
    assert refused is not None and refused.condition == NOT_CORRECTED


def test_sh_art_11_repair_of_a_penalty_needs_it_fulfilled() -> None:
    for fulfilled in (None, False):
        r = rec(corrected_on=NEW, penalty_fulfilled=fulfilled)
        refused = repair_refusal(r, add_years(NEW, 1), commitment=True)
        assert refused is not None and refused.condition == PENALTY_NOT_FULFILLED and refused.earliest is None


def test_sh_art_11_other_dishonesty_is_repaired_unless_its_obligation_is_unfulfilled() -> None:
    r = rec(RecordType.FALSE_MATERIALS, corrected_on=NEW)
    assert repair_refusal(r, add_years(NEW, 1), commitment=True) is None
    r = rec(RecordType.FALSE_MATERIALS, corrected_on=NEW, penalty_fulfilled=False)
    refused = repair_refusal(r, add_years(NEW, 1), commitment=True)
    assert refused is not None and refused.condition == PENALTY_NOT_FULFILLED


def test_ndrc_2025_36_repair_needs_a_credit_commitment() -> None:
    refused = repair_refusal(fixed(), add_years(NEW, 1), commitment=False)
    assert refused is not None and refused.condition == COMMITMENT_MISSING


def test_sh_art_11_revoked_repaired_or_non_dishonesty_records_are_not_repaired() -> None:
    for status in (RecordStatus.REVOKED, RecordStatus.REPAIRED, RecordStatus.CORRECTED):
        refused = repair_refusal(fixed(status=status, status_changed_on=NEW), add_years(NEW, 1), commitment=True)
        assert refused is not None and refused.condition == NOT_REPAIRABLE
    award = rec(RecordType.AWARD)
    refused = repair_refusal(award, add_years(NEW, 1), commitment=True)
    assert refused is not None and refused.condition == NOT_REPAIRABLE


# --- MOHRSS 45: the wage-arrears listing -----------------------------------------------------------------------------


def listing(decided_on: date = date(2025, 1, 2), **kw: Any) -> Record:
    return rec(RecordType.WAGE_ARREARS_BLACKLIST, decided_on, severity=Severity.SERIOUS, **kw)


def test_mohrss_45_listing_lasts_three_years_from_the_decision() -> None:
    assert wage_arrears_listing_end(listing()) == date(2028, 1, 2)
    assert wage_arrears_listing_end(listing(date(2024, 2, 29))) == date(2027, 2, 28)


def test_mohrss_45_listing_ends_the_day_before_an_early_removal() -> None:
    r = listing(status=RecordStatus.REPAIRED, status_changed_on=date(2026, 2, 1))
    assert wage_arrears_listing_end(r) == date(2026, 1, 31)
    revoked = listing(status=RecordStatus.REVOKED, status_changed_on=date(2026, 2, 1))
    assert wage_arrears_listing_end(revoked) < revoked.decided_on  # never in force


def test_mohrss_45_early_removal_six_full_months_after_the_wages_are_paid() -> None:
    paid = date(2025, 8, 31)
    r = listing()
    last = add_months(paid, 6)  # 2026-02-28
    assert last == date(2026, 2, 28)
    refused = early_removal_refusal(r, last - ONE, wages_paid_on=paid, commitment=True)
    assert refused is not None and refused.condition == SIX_MONTHS and refused.earliest == last + ONE
    refused = early_removal_refusal(r, last, wages_paid_on=paid, commitment=True)
    assert refused is not None and refused.condition == SIX_MONTHS
    assert early_removal_refusal(r, last + ONE, wages_paid_on=paid, commitment=True) is None


def test_mohrss_45_early_removal_counts_six_months_of_listing_when_paid_before_it() -> None:
    r = listing(date(2025, 1, 2))
    refused = early_removal_refusal(r, date(2025, 7, 2), wages_paid_on=date(2024, 12, 1), commitment=True)
    assert refused is not None and refused.condition == SIX_MONTHS and refused.earliest == date(2025, 7, 3)
    assert early_removal_refusal(r, date(2025, 7, 3), wages_paid_on=date(2024, 12, 1), commitment=True) is None


def test_mohrss_45_early_removal_needs_the_wages_paid() -> None:
    refused = early_removal_refusal(listing(), date(2026, 6, 1), wages_paid_on=None, commitment=True)
    assert refused is not None and refused.condition == WAGES_NOT_PAID and refused.earliest is None


def test_mohrss_45_early_removal_uses_the_correction_date_when_no_payment_date_is_given() -> None:
    r = listing(corrected_on=date(2025, 3, 1))
    assert early_removal_refusal(r, date(2025, 9, 2), wages_paid_on=None, commitment=True) is None


def test_mohrss_45_early_removal_needs_a_written_commitment() -> None:
    refused = early_removal_refusal(listing(), date(2026, 6, 1), wages_paid_on=date(2025, 3, 1), commitment=False)
    assert refused is not None and refused.condition == COMMITMENT_MISSING


def test_mohrss_45_no_early_removal_after_the_listing_ended_or_of_other_records() -> None:
    refused = early_removal_refusal(listing(), date(2028, 1, 3), wages_paid_on=date(2025, 3, 1), commitment=True)
    assert refused is not None and refused.condition == LISTING_ENDED
    refused = early_removal_refusal(rec(), date(2026, 6, 1), wages_paid_on=date(2025, 3, 1), commitment=True)
    assert refused is not None and refused.condition == NOT_REPAIRABLE


def test_mohrss_45_repair_of_a_listing_is_its_early_removal() -> None:
    r = listing(corrected_on=date(2025, 3, 1))
    refused = repair_refusal(r, date(2025, 9, 1), commitment=True)
    assert refused is not None and refused.condition == SIX_MONTHS and refused.earliest == date(2025, 9, 2)
    assert repair_refusal(r, date(2025, 9, 2), commitment=True) is None


# --- NDRC 2025/36: a missing window is the longest one ------------------------------------------------------------


def _end(type_: RecordType, severity: Severity | None, decided: date, **details: Any) -> date | None:
    return publication_end(type_, severity, decided, None, details)


def test_ndrc_2025_36_serious_information_without_a_window_is_published_for_three_years() -> None:
    decided = date(2026, 10, 2)
    end = _end(RecordType.FALSE_MATERIALS, Severity.SERIOUS, decided)
    assert end == add_years(decided, 3) == date(2029, 10, 2)
    record = rec(RecordType.FALSE_MATERIALS, decided, severity=Severity.SERIOUS)
    assert published_interval(record) == (decided, end)
    assert not is_published("ACTIVE", decided, end, decided - ONE)
    assert is_published("ACTIVE", decided, end, decided)
    assert is_published("ACTIVE", decided, end, end)
    assert not is_published("ACTIVE", decided, end, end + ONE)  # publication stops by itself at the maximum


def test_ndrc_2025_36_general_information_without_a_window_is_published_for_one_year() -> None:
    assert _end(RecordType.ADMINISTRATIVE_PENALTY, Severity.GENERAL, NEW) == add_months(NEW, 12)
    assert _end(RecordType.BROKEN_COMMITMENT, Severity.GENERAL, OLD) == add_months(OLD, 12)  # NDRC 2023/58 alike


def test_mohrss_45_a_wage_arrears_listing_without_a_window_is_published_while_in_force() -> None:
    decided = date(2026, 10, 2)
    listing = rec(RecordType.WAGE_ARREARS_BLACKLIST, decided, severity=Severity.SERIOUS)
    assert _end(RecordType.WAGE_ARREARS_BLACKLIST, Severity.SERIOUS, decided) == wage_arrears_listing_end(listing)
    removed = rec(
        RecordType.WAGE_ARREARS_BLACKLIST,
        decided,
        severity=Severity.SERIOUS,
        status=RecordStatus.REPAIRED,
        status_changed_on=date(2027, 6, 1),
    )
    assert published_interval(removed) == (decided, date(2027, 5, 31))  # early removal ends publication


def test_ndrc_2025_36_a_given_window_is_kept() -> None:
    assert publication_end(RecordType.FALSE_MATERIALS, Severity.SERIOUS, NEW, NEW + ONE * 400) == NEW + ONE * 400


def test_sh_art_5_2_what_is_not_published_gets_no_window_by_default() -> None:
    assert _end(RecordType.ADMINISTRATIVE_PENALTY, Severity.MINOR, NEW) is None  # SH art. 5(2): minor
    assert _end(RecordType.ADMINISTRATIVE_PENALTY, Severity.GENERAL, NEW, harm_eliminated=True) is None
    assert _end(RecordType.FALSE_MATERIALS, Severity.MINOR, NEW) is None  # NDRC 2025/36: 原则上不予公示
    assert _end(RecordType.JUDGMENT_DEFAULTER, Severity.SERIOUS, NEW) is None  # the court publishes (SH art. 9(2))
    assert _end(RecordType.AWARD, None, NEW) is None and _end(RecordType.INTERVIEW, None, NEW) is None
