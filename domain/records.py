"""What a credit record must satisfy before it is written (SH art. 5, 7; national publicity rule).

A draft is checked field by field; every problem is reported with the field it concerns, so that an import
can name the row, the field and the reason, and reject the whole batch (DESIGN.md "Records").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import Any, NamedTuple

from domain.publicity import HARM_ELIMINATED, publication_refusal
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

LABOR_CONTRACT_ATTESTED = "labor_contract_attested"  # the ``details`` key of WG art. 9(2)'s attestation


class TypedDetail(NamedTuple):
    """A rule's carrier that is a typed input field and is kept under ``key`` of ``details``."""

    field: str
    key: str
    type: RecordType
    rule: str


# The facts rules read from a record beyond its columns. Each is a typed, documented input field; it is stored in
# ``details`` under its key, which is also accepted as given there (the older form).
TYPED_DETAILS = (
    TypedDetail(
        "laborContractAttested",
        LABOR_CONTRACT_ATTESTED,
        RecordType.HARMONIOUS_LABOR_RELATIONS,
        "WG art. 9(2): the designation attests that the employer keeps the labor-contract system",
    ),
    TypedDetail(
        "harmEliminated",
        HARM_ELIMINATED,
        RecordType.ADMINISTRATIVE_PENALTY,
        "SH art. 5(2): the party eliminated or mitigated the harm of the violation",
    ),
)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class FieldKind(Enum):
    """What a content field holds, which decides how a given value is parsed and how it is stored."""

    TEXT = "text"  # a string; stored trimmed
    DATE = "date"  # a date, given as an ISO date YYYY-MM-DD
    BOOL = "bool"  # true or false
    ENUM = "enum"  # a member of ``RecordField.enum``, given by its name; stored as its value
    JSON = "json"  # any JSON value, stored as given (check_draft wants an object)


@dataclass(frozen=True, slots=True)
class RecordField:
    """A field of a record's content: its name in the draft, in the stored content and as a column of
    credit_records (``name``); its name in RecordInput, in a JSON line or CSV row and in the problems reported
    (``input``); what it holds; and whether a row without it is refused before it is checked."""

    name: str
    input: str
    kind: FieldKind
    required: bool = False
    enum: type[StrEnum] | None = None


# A record's content, in the order of RecordDraft's fields and of the stored content. The digest of a stored
# record covers these fields by name (store.records.content_digest): renaming one changes every digest.
RECORD_CONTENT: tuple[RecordField, ...] = (
    RecordField("type", "type", FieldKind.ENUM, required=True, enum=RecordType),
    # stored as the type's category whatever is given: check_draft refuses another
    RecordField("category", "category", FieldKind.ENUM, enum=RecordCategory),
    RecordField("severity", "severity", FieldKind.ENUM, enum=Severity),
    RecordField("title", "title", FieldKind.TEXT, required=True),
    RecordField("decision_number", "decisionNumber", FieldKind.TEXT, required=True),
    RecordField("source_unit", "sourceUnit", FieldKind.TEXT, required=True),
    RecordField("legal_basis", "legalBasis", FieldKind.TEXT),
    RecordField("occurred_on", "occurredOn", FieldKind.DATE),
    RecordField("decided_on", "decidedOn", FieldKind.DATE, required=True),
    RecordField("publicity_until", "publicityUntil", FieldKind.DATE),
    RecordField("penalty_fulfilled", "penaltyFulfilled", FieldKind.BOOL),
    RecordField("corrected_on", "correctedOn", FieldKind.DATE),
    RecordField("details", "details", FieldKind.JSON),
)
_REQUIRED_TEXT = tuple(f for f in RECORD_CONTENT if f.kind is FieldKind.TEXT and f.required)


class RecordDraft(NamedTuple):
    """A record's content as given, before it is checked (``check_draft``): the fields of ``RECORD_CONTENT``, in
    its order, a required one typed as its kind and an optional one as its kind or None. Immutable; a named tuple
    because a bulk import makes one for every row, which costs a frozen dataclass three times as much. Written out
    rather than made from the table, so that the type checker knows each field's type."""

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
    for text in _REQUIRED_TEXT:
        value: str = getattr(draft, text.name)
        if not value.strip():
            bad(text.input, "must not be empty")
        elif len(value) > MAX_TEXT:
            bad(text.input, f"must be at most {MAX_TEXT} characters")
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


def with_typed_details(
    type: RecordType | None, details: Any, given: Mapping[str, Any]
) -> tuple[Any, list[FieldProblem]]:
    """``details`` with the typed fields of ``given`` (camelCase input names; absent or None: not given) under their
    keys, and what is wrong with them: not true/false, given for a record type the rule does not concern, or
    contradicting the same key given in ``details``."""
    problems: list[FieldProblem] = []
    merged = details
    for typed in TYPED_DETAILS:
        value = given.get(typed.field)
        if value is None:
            continue
        if not isinstance(value, bool):
            problems.append(FieldProblem(typed.field, "must be true or false"))
            continue
        if type is not None and type is not typed.type:
            problems.append(FieldProblem(typed.field, f"applies only to {typed.type.value} records ({typed.rule})"))
            continue
        if isinstance(merged, Mapping):
            if typed.key in merged and merged[typed.key] is not value:
                problems.append(FieldProblem(typed.field, f"contradicts details.{typed.key}"))
                continue
            merged = {**merged, typed.key: value}
        elif merged is None:
            merged = {typed.key: value}
        # details of another shape is refused by check_draft, naming details
    return merged, problems
