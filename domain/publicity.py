"""Publication (公示), repair (信用修复) and the wage-arrears listing term: the national rules that complete the seeds.

DESIGN.md "Records": ``published`` is derived — inside the publicity window and neither repaired nor
revoked. The window runs from the date of the deciding document (inclusive) to its end (inclusive): the
``publicity_until`` given, else the longest the national rule allows (``publication_end``).

The bounds of the window per severity come from the national repair rule in force on the decision date
(国家发展改革委令2025年第36号 from 2026-04-01, 国家发展改革委令2023年第58号 before), the listing term of the
wage-arrears blacklist from 人力资源社会保障部令第45号. Periods are counted as 民法典 art. 201-202 count them
(``domain.periods``): a window of ``n`` months opened on ``d`` covers ``d`` … ``add_months(d, n)``, and "the window
has passed" from the day after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.model import NDRC_2023, NDRC_2025, Record
from domain.periods import ONE_DAY, add_months, add_years
from domain.rules import publicity_regime
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordStatus, RecordType, Severity

_NOT_PUBLISHED = frozenset({RecordStatus.REPAIRED, RecordStatus.REVOKED, RecordStatus.CORRECTED})
# Statuses under which a record never had effect: revoked (void from the start), or replaced by a corrected
# version (the current version carries the effect instead).
_VOID = frozenset({RecordStatus.REVOKED, RecordStatus.CORRECTED})

LISTING_YEARS = 3  # MOHRSS 45: 失信联合惩戒名单期限为三年
EARLY_REMOVAL_MONTHS = 6  # MOHRSS 45: 自改正之日起满6个月


def is_published(status: str, decided_on: date, publication_end: date | None, on: date) -> bool:
    """True while ``on`` lies in [decided_on, publication_end] and the record is neither repaired, revoked nor
    replaced by a corrected version. ``publication_end`` is the record's :func:`publication_end`."""
    if status in _NOT_PUBLISHED or publication_end is None:
        return False
    return decided_on <= on <= publication_end


HARM_ELIMINATED = "harm_eliminated"  # the ``details`` key of SH art. 5(2)'s second exception


def harm_eliminated(details: Mapping[str, Any] | None) -> bool:
    """SH art. 5(2): the party itself eliminated or mitigated the harm of the violation (主动消除、减轻违法行为危害后果)."""
    return isinstance(details, Mapping) and details.get(HARM_ELIMINATED) is True


def not_dishonesty_penalty(type: RecordType, severity: Severity | None, details: Mapping[str, Any] | None) -> bool:
    """SH art. 5(2): an administrative penalty is not dishonesty information when the violation is minor or the
    party eliminated or mitigated its harm; it is then never published, yet still a penalty (WG art. 12(1))."""
    return type is RecordType.ADMINISTRATIVE_PENALTY and (severity is Severity.MINOR or harm_eliminated(details))


def publication_end(
    type: RecordType,
    severity: Severity | None,
    decided_on: date,
    publicity_until: date | None,
    details: Mapping[str, Any] | None = None,
) -> date | None:
    """The last day a record is published (None: never), before a repair or revocation cuts it.

    The window the source unit gave, when it gave one. Otherwise dishonesty information is published for the
    longest the national rule allows (NDRC 2025/36: a public disclosure period ends by itself at its maximum, so
    a missing end cannot mean "never"): a wage-arrears listing for the whole listing term (MOHRSS 45: published
    while it is in force), SERIOUS for 3 years and GENERAL for 1 year. A court's defaulter listing is published
    under the court's rules (SH art. 9(2)), a penalty of SH art. 5(2)'s exceptions is not dishonesty information,
    and MINOR information is in principle not published (NDRC 2025/36): none of these gets a window by default.
    ``store`` mirrors this rule in the generated column ``credit_records.publication_end``."""
    if publicity_until is not None:
        return publicity_until
    if CATEGORY_OF[type] is not RecordCategory.DISHONESTY or type is RecordType.JUDGMENT_DEFAULTER:
        return None
    if type is RecordType.WAGE_ARREARS_BLACKLIST:
        return add_years(decided_on, LISTING_YEARS)
    if not_dishonesty_penalty(type, severity, details) or severity not in (Severity.GENERAL, Severity.SERIOUS):
        return None
    bounds = publicity_bounds(severity, decided_on)
    return bounds[1] if bounds is not None else None


def record_publication_end(record: Record) -> date | None:
    """:func:`publication_end` of a record."""
    return publication_end(record.type, record.severity, record.decided_on, record.publicity_until, record.details)


# ---------------------------------------------------------------------------------------------------------------
# The effect of a record's status over time
# ---------------------------------------------------------------------------------------------------------------


def effect_interval(record: Record) -> tuple[date, date | None] | None:
    """The days on which a record has effect, given its current status: ``decided_on`` … the returned end
    (inclusive; None: no end), or None when it never has effect.

    REVOKED and CORRECTED (superseded) records never have effect: the revocation makes the decision void from the
    start and the corrected version replaces it. A REPAIRED record has effect until the day before the repair was
    approved (``status_changed_on``): an approved repair ends publication, sharing and restriction at once
    (NDRC 2025/36); without a repair date it is taken to have no effect. ACTIVE and UNDER_OBJECTION records keep
    their effect (SH art. 10)."""
    if record.status in _VOID:
        return None
    if record.status is RecordStatus.REPAIRED:
        if record.status_changed_on is None or record.status_changed_on <= record.decided_on:
            return None
        return record.decided_on, record.status_changed_on - ONE_DAY
    return record.decided_on, None


def counts_on(record: Record, day: date) -> bool:
    """Whether ``record`` has effect on ``day`` (see ``effect_interval``)."""
    interval = effect_interval(record)
    if interval is None:
        return False
    start, end = interval
    return start <= day and (end is None or day <= end)


def published_interval(record: Record) -> tuple[date, date] | None:
    """The days a record was or will be published, reproducing the past: ``decided_on`` … its publication end
    (:func:`publication_end`), cut at the day before an approved repair; None when it is never published."""
    interval = effect_interval(record)
    last = record_publication_end(record)
    if interval is None or last is None:
        return None
    start, end = interval
    until = last if end is None else min(end, last)
    if until < start:
        return None
    return start, until


# ---------------------------------------------------------------------------------------------------------------
# Publicity windows (公示期限)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicityRule:
    """The publicity window for one severity under one national regime: at least ``minimum_months`` (0: none),
    at most ``maximum_months``; ``maximum_months`` None: the information is not published."""

    regime: str
    severity: Severity
    minimum_months: int
    maximum_months: int | None


PUBLICITY_RULES: tuple[PublicityRule, ...] = (
    # NDRC 2025/36 (from 2026-04-01): 轻微失信信息原则上不予公示，确有必要公示的最长不超过3个月;
    # 一般失信信息最短3个月、最长1年; 严重失信信息最短1年、最长3年; 自认定之日起计算.
    PublicityRule(NDRC_2025, Severity.MINOR, 0, 3),
    PublicityRule(NDRC_2025, Severity.GENERAL, 3, 12),
    PublicityRule(NDRC_2025, Severity.SERIOUS, 12, 36),
    # NDRC 2023/58 (until 2026-03-31): minor information is not published; general and serious as above.
    PublicityRule(NDRC_2023, Severity.MINOR, 0, None),
    PublicityRule(NDRC_2023, Severity.GENERAL, 3, 12),
    PublicityRule(NDRC_2023, Severity.SERIOUS, 12, 36),
)


def publicity_rule(severity: Severity, decided_on: date) -> PublicityRule:
    """The row of ``PUBLICITY_RULES`` for ``severity`` under the regime in force on ``decided_on``."""
    regime = publicity_regime(decided_on).name
    for rule in PUBLICITY_RULES:
        if rule.regime == regime and rule.severity is severity:
            return rule
    raise LookupError(f"no publicity rule for {severity} under {regime}")  # pragma: no cover - the table is total


def publicity_bounds(severity: Severity | None, decided_on: date) -> tuple[date, date] | None:
    """(earliest, latest) allowed ``publicity_until`` under the regime in force on ``decided_on``; None when the
    record is not to be published (no severity: basic or enhancing information; MINOR under NDRC 2023/58).

    MINOR under NDRC 2025/36 may be published for at most 3 months, so its earliest end is the decision day."""
    if severity is None:
        return None
    rule = publicity_rule(severity, decided_on)
    if rule.maximum_months is None:
        return None
    earliest = add_months(decided_on, rule.minimum_months) if rule.minimum_months else decided_on
    return earliest, add_months(decided_on, rule.maximum_months)


def publication_refusal(
    type: RecordType,
    severity: Severity | None,
    decided_on: date,
    publicity_until: date | None,
    details: Mapping[str, Any] | None = None,
) -> str | None:
    """Why a record's publicity window is outside the legal bounds, or None when it is inside them.

    No window (``publicity_until`` None) is always allowed: the record is then simply not published by this
    system. Only dishonesty information is bounded; a court's judgment-defaulter listing is published under the
    court's rules, not the national repair rule; a MINOR administrative penalty is not dishonesty information
    (SH art. 5(2) exception) and is never published."""
    if publicity_until is None:
        return None
    if publicity_until < decided_on:
        return "the publicity window ends before the decision date"
    if CATEGORY_OF[type] is not RecordCategory.DISHONESTY or type is RecordType.JUDGMENT_DEFAULTER:
        return None
    if type is RecordType.ADMINISTRATIVE_PENALTY and severity is Severity.MINOR:
        return "a minor administrative penalty is not dishonesty information and is not published (SH art. 5(2))"
    if type is RecordType.ADMINISTRATIVE_PENALTY and harm_eliminated(details):
        return (
            "a penalty whose harm the party eliminated or mitigated is not dishonesty information and is not "
            "published (SH art. 5(2))"
        )
    if severity is None:
        return None
    regime = publicity_regime(decided_on)
    bounds = publicity_bounds(severity, decided_on)
    if bounds is None:
        return f"minor dishonesty information decided before 2026-04-01 is not published ({regime.short})"
    earliest, latest = bounds
    if publicity_until > latest:
        return (
            f"{severity.value.lower()} dishonesty information is published at most until {latest.isoformat()} "
            f"({regime.short})"
        )
    if publicity_until < earliest:
        return (
            f"{severity.value.lower()} dishonesty information is published at least until {earliest.isoformat()} "
            f"({regime.short})"
        )
    return None


# ---------------------------------------------------------------------------------------------------------------
# Repair (信用修复) and early removal from the wage-arrears list
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairRefusal:
    """Why a repair (or early removal) cannot be approved on a day: the unmet ``condition`` (a stable code), a
    short English ``reason``, and the ``earliest`` day it can be met when that depends only on time."""

    condition: str
    reason: str
    earliest: date | None = None


NOT_REPAIRABLE = "NOT_REPAIRABLE"
MINIMUM_PUBLICITY = "MINIMUM_PUBLICITY"
NOT_CORRECTED = "NOT_CORRECTED"
PENALTY_NOT_FULFILLED = "PENALTY_NOT_FULFILLED"
COMMITMENT_MISSING = "COMMITMENT_MISSING"
WAGES_NOT_PAID = "WAGES_NOT_PAID"
SIX_MONTHS = "SIX_MONTHS"
LISTING_ENDED = "LISTING_ENDED"


def _status_refusal(record: Record) -> RepairRefusal | None:
    if record.status is RecordStatus.REVOKED:
        return RepairRefusal(NOT_REPAIRABLE, "the record is revoked")
    if record.status is RecordStatus.CORRECTED:
        return RepairRefusal(NOT_REPAIRABLE, "the record was replaced by a corrected version")
    if record.status is RecordStatus.REPAIRED:
        return RepairRefusal(NOT_REPAIRABLE, "the record is already repaired")
    return None


def minimum_publicity_end(record: Record) -> date | None:
    """The last day of the minimum publicity window of a dishonesty record (None: no minimum). A record without a
    severity is held to the GENERAL minimum."""
    rule = publicity_rule(record.severity or Severity.GENERAL, record.decided_on)
    if rule.minimum_months == 0:
        return None
    return add_months(record.decided_on, rule.minimum_months)


def repair_refusal(record: Record, on: date, *, commitment: bool) -> RepairRefusal | None:
    """SH art. 11 and the national repair rule: a repair can be approved on ``on`` only when the minimum publicity
    window has passed (MINOR: none), the violation is corrected and the penalty fulfilled, and the subject has made
    a credit commitment. A wage-arrears listing is repaired by early removal (MOHRSS 45)."""
    refusal = _status_refusal(record)
    if refusal is not None:
        return refusal
    if CATEGORY_OF[record.type] is not RecordCategory.DISHONESTY:
        return RepairRefusal(NOT_REPAIRABLE, "only dishonesty information is repaired (SH art. 11)")
    if record.type is RecordType.WAGE_ARREARS_BLACKLIST:
        return early_removal_refusal(record, on, wages_paid_on=record.corrected_on, commitment=commitment)
    # A court's defaulter listing ends when the court removes it; no publicity minimum of the repair rule applies.
    minimum_end = None if record.type is RecordType.JUDGMENT_DEFAULTER else minimum_publicity_end(record)
    if minimum_end is not None and on <= minimum_end:
        earliest = minimum_end + ONE_DAY
        return RepairRefusal(
            MINIMUM_PUBLICITY,
            f"the minimum publicity window runs until {minimum_end.isoformat()}",
            earliest,
        )
    if record.corrected_on is None or record.corrected_on > on:
        return RepairRefusal(NOT_CORRECTED, "the violation is not corrected")
    if record.penalty_fulfilled is False or (
        record.type is RecordType.ADMINISTRATIVE_PENALTY and record.penalty_fulfilled is not True
    ):
        return RepairRefusal(PENALTY_NOT_FULFILLED, "the penalty or obligation is not fulfilled")
    if not commitment:
        return RepairRefusal(COMMITMENT_MISSING, "a credit commitment is required")
    return None


def wage_arrears_listing_end(record: Record) -> date:
    """MOHRSS 45: the last day a wage-arrears listing is in force — 3 years from the listing decision
    (``add_years(decided_on, 3)``, inclusive), or the day before an approved early removal / repair. A revoked or
    superseded listing was never in force: the day before ``decided_on`` (an empty interval)."""
    term_end = add_years(record.decided_on, LISTING_YEARS)
    interval = effect_interval(record)
    if interval is None:
        return record.decided_on - ONE_DAY
    _, end = interval
    return term_end if end is None else min(term_end, end)


def early_removal_refusal(
    record: Record, on: date, *, wages_paid_on: date | None, commitment: bool
) -> RepairRefusal | None:
    """MOHRSS 45: early removal from the wage-arrears list when the wages are paid (the violation corrected), the
    listing has lasted 6 full months since the correction (from the later of the payment and the listing), and a
    written credit commitment is made. ``wages_paid_on`` defaults to the record's ``corrected_on``."""
    if record.type is not RecordType.WAGE_ARREARS_BLACKLIST:
        return RepairRefusal(NOT_REPAIRABLE, "only a wage-arrears listing is removed early (MOHRSS 45)")
    refusal = _status_refusal(record)
    if refusal is not None:
        return refusal
    listing_end = add_years(record.decided_on, LISTING_YEARS)
    if on > listing_end:
        return RepairRefusal(LISTING_ENDED, f"the listing ended on {listing_end.isoformat()}")
    paid = wages_paid_on or record.corrected_on
    if paid is None or paid > on:
        return RepairRefusal(WAGES_NOT_PAID, "the owed wages are not paid")
    six_months_end = add_months(max(paid, record.decided_on), EARLY_REMOVAL_MONTHS)
    if on <= six_months_end:
        return RepairRefusal(
            SIX_MONTHS,
            f"6 months since the correction end on {six_months_end.isoformat()}",
            six_months_end + ONE_DAY,
        )
    if not commitment:
        return RepairRefusal(COMMITMENT_MISSING, "a written credit commitment is required")
    return None


__all__ = [
    "COMMITMENT_MISSING",
    "HARM_ELIMINATED",
    "LISTING_ENDED",
    "MINIMUM_PUBLICITY",
    "NOT_CORRECTED",
    "NOT_REPAIRABLE",
    "PENALTY_NOT_FULFILLED",
    "PUBLICITY_RULES",
    "SIX_MONTHS",
    "WAGES_NOT_PAID",
    "PublicityRule",
    "RepairRefusal",
    "counts_on",
    "early_removal_refusal",
    "effect_interval",
    "harm_eliminated",
    "is_published",
    "minimum_publicity_end",
    "not_dishonesty_penalty",
    "publication_end",
    "publication_refusal",
    "publicity_bounds",
    "publicity_rule",
    "published_interval",
    "record_publication_end",
    "repair_refusal",
    "wage_arrears_listing_end",
]
