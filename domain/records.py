"""What a credit record must satisfy before it is written (SH art. 5, 7; national publicity rule).

A draft is checked field by field; every problem is reported with the field it concerns, so that an import
can name the row, the field and the reason, and reject the whole batch (DESIGN.md "Records").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from domain.publicity import publication_refusal
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordType, Severity

# Types that record wrongdoing carry a severity (SH art. 5, last paragraph); the others must not.
NEEDS_SEVERITY = frozenset(
    {
        RecordType.WAGE_ARREARS_BLACKLIST,
        RecordType.ADMINISTRATIVE_PENALTY,
        RecordType.FALSE_MATERIALS,
        RecordType.BROKEN_COMMITMENT,
        RecordType.JUDGMENT_DEFAULTER,
    }
)
MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class RecordDraft(NamedTuple):
    """A record's content as given, before it is checked (``check_draft``). Immutable; a named tuple because a
    bulk import makes one for every row, which costs a frozen dataclass three times as much."""

    type: RecordType
    category: RecordCategory | None
    severity: Severity | None
    title: str
    decision_number: str
    source_unit: str
    legal_basis: str | None
    occurred_on: date | None
    decided_on: date
    publicity_until: date | None
    penalty_fulfilled: bool | None
    corrected_on: date | None
    details: Any


def check_draft(draft: RecordDraft, *, today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(field, message))

    expected = CATEGORY_OF[draft.type]
    if draft.category is not None and draft.category is not expected:
        bad("category", f"{draft.type.value} is a {expected.value} record, not {draft.category.value} (WG art. 5)")
    for name in ("title", "decision_number", "source_unit"):
        value: str = getattr(draft, name)
        if not value.strip():
            bad(_camel(name), "must not be empty")
        elif len(value) > MAX_TEXT:
            bad(_camel(name), f"must be at most {MAX_TEXT} characters")
    if draft.type in NEEDS_SEVERITY and draft.severity is None:
        bad("severity", f"a {draft.type.value} record needs a severity (SH art. 5)")
    if draft.type not in NEEDS_SEVERITY and draft.severity is not None:
        bad("severity", f"a {draft.type.value} record has no severity")
    if draft.severity is Severity.SERIOUS and not (draft.legal_basis or "").strip():
        bad(
            "legalBasis",
            "serious dishonesty needs its legal basis: a law, regulation or central policy document (SH art. 5)",
        )
    if draft.type in (RecordType.WAGE_ARREARS_BLACKLIST, RecordType.JUDGMENT_DEFAULTER) and draft.severity not in (
        None,
        Severity.SERIOUS,
    ):
        bad("severity", f"a {draft.type.value} listing is serious dishonesty (SH art. 9)")
    if draft.decided_on > today:
        bad("decidedOn", "the decision date is in the future")
    if draft.occurred_on is not None and draft.occurred_on > draft.decided_on:
        bad("occurredOn", "the violation cannot have occurred after the decision")
    if draft.corrected_on is not None and draft.corrected_on > today:
        bad("correctedOn", "the correction date is in the future")
    if draft.publicity_until is not None and draft.publicity_until < draft.decided_on:
        bad("publicityUntil", "the publicity window ends before the decision date")
    else:
        refusal = publication_refusal(
            draft.type, draft.severity, draft.decided_on, draft.publicity_until, draft.details
        )
        if refusal:
            bad("publicityUntil", refusal)
    if draft.details is not None and not isinstance(draft.details, dict):
        bad("details", "must be a JSON object")
    return problems


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
