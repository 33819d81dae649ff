"""Objections (异议): the deadlines in working days, the states an objection goes through, what a decision does to
the record, and which deadlines a bureau has missed. Pure: the calendar is passed in.

* SH art. 10 (异议申请及处理): a subject that finds information about it wrong may object; the unit that made the
  original decision (原行政行为作出单位) verifies it and decides whether to correct it.
* WG art. 19: an employer may object to errors or omissions in the collection, use or grading of its credit
  information.
* WG art. 20 first paragraph: the bureau decides within 3 working days of receipt when the objection is within its
  own competence, within 10 working days when another department must verify the information.
* WG art. 20 second paragraph: the verified record is pushed to the city credit-sharing platform within 5 working
  days after the objection is handled.
* While an objection is handled the record keeps its effect, but every grade and restriction it drives is
  ``disputed`` (DESIGN.md "Records", SH art. 10: the information is under verification).
* A correction never overwrites: it is a new version of the record and the old one is kept as CORRECTED; a
  correction that finds the record should not exist revokes it (WG art. 7: 不得篡改、虚构、隐匿或者违规删除信用信息).

Working days follow the official schedule (``domain.workdays``): 民法典 art. 201, the day of receipt (or of the
decision) is not counted. A deadline is ``provisional`` when any day counted lies in a year whose official schedule
is not loaded (counted Monday to Friday until it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

from domain.model import SH, WG, Citation
from domain.records import RecordDraft
from domain.taxonomy import ObjectionStatus, RecordStatus
from domain.workdays import WorkCalendar

__all__ = [
    "CORRECTABLE_FIELDS",
    "DEADLINE_RULES",
    "DECIDE",
    "DECIDE_AFTER_VERIFICATION",
    "OBJECTION_RULES",
    "OPEN_STATUSES",
    "PUSH",
    "TRANSITIONS",
    "Deadline",
    "DeadlineRule",
    "ObjectionRule",
    "TransitionRefused",
    "corrected_draft",
    "decision_deadline",
    "decision_status",
    "filing_refusal",
    "is_open",
    "is_overdue",
    "push_deadline",
    "receipt_refusal",
]


def _wg(article: str, short: str, text: str) -> Citation:
    return Citation(document=WG, article=article, text=text, short=short)


def _sh(article: str, short: str, text: str) -> Citation:
    return Citation(document=SH, article=article, text=text, short=short)


SH_10 = _sh(
    "第十条",
    "SH art. 10",
    "单位或个人认为被纳入市公共信用信息服务平台的信息存在错误的，可以按规定向市公共信用信息服务中心提出异议申请。"
    "在收到异议申请后，原行政行为作出单位应当及时对信息进行核查，按规定作出是否更正的决定，告知市公共信用信息服务中心。",
)
WG_7 = _wg(
    "第七条",
    "WG art. 7",
    "信用信息的记录、归集应当及时、准确、完整，市人社行政部门应当加强信用信息安全管理，不得篡改、虚构、隐匿或者违规删除信用信息。",
)
WG_19 = _wg(
    "第十九条",
    "WG art. 19",
    "用人单位认为自身劳动保障信用信息的采集、归集、应用和信用等级评价等过程中存在错误、遗漏等情形或者侵犯其商业秘密、"
    "个人隐私和其他个人信息等合法权益的,可以按照有关规定向市人社行政部门提出异议申请。",
)
WG_20_1 = _wg(
    "第二十条第一款",
    "WG art. 20(1)",
    "市人社行政部门接到用人单位直接提出的异议申请后,属于本单位处理范围的,应当自收到异议申请之日起3个工作日内完成处理"
    "并将结果告知异议申请单位;如需向相关部门核查信息的,应当自收到异议申请之日起10个工作日内完成核查处理,"
    "并将结果告知异议申请单位。",
)
WG_20_2 = _wg(
    "第二十条第二款",
    "WG art. 20(2)",
    "异议申请处理后,应当在5个工作日内将核实处理后的信息记录推送至市信用信息共享平台。",
)


# ---------------------------------------------------------------------------------------------------------------
# The rules, as a table
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A deadline of ``working_days`` working days counted from ``counted_from`` (the day itself not counted)."""

    name: str
    working_days: int
    counted_from: str  # "receipt" | "decision"
    citation: Citation


DECIDE = DeadlineRule("DECIDE", 3, "receipt", WG_20_1)
"""WG art. 20(1): within the bureau's own competence, decided within 3 working days of receipt."""
DECIDE_AFTER_VERIFICATION = DeadlineRule("DECIDE_AFTER_VERIFICATION", 10, "receipt", WG_20_1)
"""WG art. 20(1): when another department must verify the information, within 10 working days of receipt."""
PUSH = DeadlineRule("PUSH", 5, "decision", WG_20_2)
"""WG art. 20(2): the handled record reaches the city credit-sharing platform within 5 working days."""

DEADLINE_RULES: tuple[DeadlineRule, ...] = (DECIDE, DECIDE_AFTER_VERIFICATION, PUSH)


@dataclass(frozen=True, slots=True)
class ObjectionRule:
    """One rule of the objection procedure, with the article it comes from (for docs/rules.md and the API)."""

    key: str
    citation: Citation
    rule: str


OBJECTION_RULES: tuple[ObjectionRule, ...] = (
    ObjectionRule("FILE", WG_19, "the subject (employer) or an administrator files an objection against a record"),
    ObjectionRule("VERIFY", SH_10, "the original deciding unit verifies and decides whether to correct"),
    ObjectionRule(
        "DISPUTED", SH_10, "while it is handled the record keeps its effect; every grade and restriction says disputed"
    ),
    ObjectionRule(DECIDE.name, WG_20_1, "decided within 3 working days of receipt"),
    ObjectionRule(DECIDE_AFTER_VERIFICATION.name, WG_20_1, "within 10 working days when another department verifies"),
    ObjectionRule(PUSH.name, WG_20_2, "pushed to the city credit platform within 5 working days of the decision"),
    ObjectionRule("NEW_VERSION", WG_7, "a correction is a new version; the old version is kept as CORRECTED"),
)


# ---------------------------------------------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deadline:
    """The last day to act (a working day), whether it may still move (``provisional``), and its rule."""

    day: date
    provisional: bool
    rule: DeadlineRule


def _deadline(calendar: WorkCalendar, start: date, rule: DeadlineRule) -> Deadline:
    found = calendar.working_days_after(start, rule.working_days)
    return Deadline(found.day, found.provisional, rule)


def decision_deadline(calendar: WorkCalendar, received_on: date, *, needs_external_verification: bool) -> Deadline:
    """WG art. 20(1): 3 working days after ``received_on`` (10 when another department must verify); the day of
    receipt is not counted (民法典 art. 201), holidays are skipped and make-up working days count."""
    rule = DECIDE_AFTER_VERIFICATION if needs_external_verification else DECIDE
    return _deadline(calendar, received_on, rule)


def push_deadline(calendar: WorkCalendar, decided_on: date) -> Deadline:
    """WG art. 20(2): 5 working days after the day the objection was decided."""
    return _deadline(calendar, decided_on, PUSH)


def receipt_refusal(received_on: date, *, today: date, record_decided_on: date) -> str | None:
    """Why ``received_on`` cannot be the day an objection against a record decided on ``record_decided_on`` was
    received (WG art. 20(1) counts from it), or None."""
    if received_on > today:
        return "the day of receipt cannot be in the future"
    if received_on < record_decided_on:
        return "an objection cannot be received before the record it objects to was decided"
    return None


# ---------------------------------------------------------------------------------------------------------------
# States
# ---------------------------------------------------------------------------------------------------------------

OPEN_STATUSES = frozenset({ObjectionStatus.SUBMITTED, ObjectionStatus.VERIFYING})

TRANSITIONS: Mapping[ObjectionStatus, frozenset[ObjectionStatus]] = MappingProxyType(
    {
        # VERIFYING: another department is verifying (WG art. 20(1)); no operation of the API sets it yet.
        ObjectionStatus.SUBMITTED: frozenset(
            {ObjectionStatus.VERIFYING, ObjectionStatus.CORRECTED, ObjectionStatus.REJECTED}
        ),
        ObjectionStatus.VERIFYING: frozenset({ObjectionStatus.CORRECTED, ObjectionStatus.REJECTED}),
        ObjectionStatus.CORRECTED: frozenset(),
        ObjectionStatus.REJECTED: frozenset(),
    }
)


class TransitionRefused(ValueError):
    """A state change the procedure does not allow (the API answers CONFLICT)."""


def is_open(status: ObjectionStatus) -> bool:
    """Submitted or being verified: not decided yet (SH art. 10)."""
    return status in OPEN_STATUSES


def decision_status(current: ObjectionStatus, *, correct: bool) -> ObjectionStatus:
    """The status a decision moves an objection to: CORRECTED when the information is corrected, REJECTED when it
    stands (SH art. 10: 作出是否更正的决定). A decided objection is not decided again."""
    target = ObjectionStatus.CORRECTED if correct else ObjectionStatus.REJECTED
    if target not in TRANSITIONS[current]:
        raise TransitionRefused(f"the objection is already decided ({current.value})")
    return target


def filing_refusal(status: RecordStatus, *, superseded: bool) -> str | None:
    """Why no objection can be filed against this record version now (the API answers CONFLICT), or None.

    One objection at a time per record: while one is handled the record is UNDER_OBJECTION. A corrected
    (superseded), revoked or repaired version no longer has effect; an objection goes to the current version."""
    if superseded or status is RecordStatus.CORRECTED:
        return "this version of the record was replaced by a corrected one: object to the current version"
    if status is RecordStatus.UNDER_OBJECTION:
        return "an objection against this record is already being handled"
    if status is RecordStatus.REVOKED:
        return "the record is revoked"
    if status is RecordStatus.REPAIRED:
        return "the record is repaired"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Corrections
# ---------------------------------------------------------------------------------------------------------------

CORRECTABLE_FIELDS = frozenset(
    {"severity", "title", "legal_basis", "publicity_until", "penalty_fulfilled", "corrected_on", "details"}
)
"""What a decision may correct. The subject, type, source unit, decision number and decision date identify the
decision itself: a different one is a different record (revoke this one, import the other)."""


def corrected_draft(draft: RecordDraft, changes: Mapping[str, Any]) -> RecordDraft:
    """The content of the new version: the old content with the corrected fields replaced (WG art. 7: a new
    version, never an overwrite). The result is checked like any record (``domain.records.check_draft``)."""
    unknown = sorted(set(changes) - CORRECTABLE_FIELDS)
    if unknown:
        raise ValueError(f"not correctable: {', '.join(unknown)}")
    return draft._replace(**changes)


# ---------------------------------------------------------------------------------------------------------------
# Breaches
# ---------------------------------------------------------------------------------------------------------------


def is_overdue(
    *,
    due_on: date,
    decided_on: date | None,
    push_due_on: date | None,
    pushed_on: date | None,
    as_of: date,
) -> bool:
    """Whether on ``as_of`` a deadline of the objection has passed unmet: not decided by ``due_on`` (WG art. 20(1)),
    or decided but not pushed by ``push_due_on`` (WG art. 20(2)). Acting on the last day is in time; a decision
    or push made after ``as_of`` had not happened on ``as_of``. A breach stays a breach once the deadline passed."""
    if due_on < as_of and (decided_on is None or decided_on > due_on):
        return True
    return push_due_on is not None and push_due_on < as_of and (pushed_on is None or pushed_on > push_due_on)
