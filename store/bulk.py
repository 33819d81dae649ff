"""Bulk import of credit records: RecordInput-shaped rows checked as the importRecords mutation checks them.

``build_rows`` turns plain mappings (camelCase keys, enum names as strings, ISO dates: what a JSON line or a CSV
row gives) into ``ImportRow`` values and reports every problem with its row index and field, using the same
rules as the mutation: the subject's identifier (GB 32100-2015 / GB 11643-1999, ``domain.identifiers``), then
``domain.records.check_draft``, then the source-unit restriction of a source unit's client (policy.md).
``land_chunk`` writes one all-or-nothing batch through ``store.imports.import_records`` and queues every subject
it touched (and the organizations they represent, SH art. 9(2)2) for recomputation (store.pending);
``land_accepted_rows`` writes the same way the rows of a file import's chunk that the store accepts, and skips the
others.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from domain import identifiers
from domain.records import (
    RECORD_CONTENT,
    TYPED_DETAILS,
    FieldKind,
    RecordDraft,
    RecordField,
    check_draft,
    with_typed_details,
)
from store import imports
from store.imports import ImportOutcome, ImportRow, RowError, SubjectKey
from store.pii import PiiCipher

__all__ = ["RECORD_FIELDS", "build_rows", "land_accepted_rows", "land_chunk", "subject_key_of"]

# The fields of the contract's RecordInput, in its order: the subject, then the content, with the typed fields
# kept in details just before details.
RECORD_FIELDS = (
    "subject",
    "subjectName",
    *(f.input for f in RECORD_CONTENT if f.kind is not FieldKind.JSON),
    *(typed.field for typed in TYPED_DETAILS),
    *(f.input for f in RECORD_CONTENT if f.kind is FieldKind.JSON),
)
_FIELD_SET = frozenset(RECORD_FIELDS)
_SUBJECT_FIELDS = ("uscc", "idNumber", "id")
_REQUIRED = tuple(f.input for f in RECORD_CONTENT if f.required)
_REQUIRED_TEXT = tuple(f.input for f in RECORD_CONTENT if f.kind is FieldKind.TEXT and f.required)
_OPTIONAL_TEXT = ("subjectName", *(f.input for f in RECORD_CONTENT if f.kind is FieldKind.TEXT and not f.required))
_ENUMS = tuple(f for f in RECORD_CONTENT if f.kind is FieldKind.ENUM)
_DATES = tuple(f for f in RECORD_CONTENT if f.kind is FieldKind.DATE)
_BOOLEANS = tuple(f for f in RECORD_CONTENT if f.kind is FieldKind.BOOL)
# A row's values in the order of RecordDraft's fields.
_DRAFT_VALUES = operator.itemgetter(*(f.input for f in RECORD_CONTENT))

_E = TypeVar("_E", bound=StrEnum)


class InvalidField(Exception):
    """A value that fails its field's rule; ``field`` is the path (``subject.uscc``), ``message`` the reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def subject_key_of(
    ref: object, *, today: date, field: str = "subject", parse_id: Callable[[str], int] | None = None
) -> SubjectKey:
    """A validated identifier of a SubjectRef mapping (``uscc``, ``idNumber`` or ``id``, exactly one).

    Same rule and messages as the mutation's ``subject_key``. ``parse_id`` turns a global id into a subject's
    primary key (raising ``ValueError`` with the reason); without it an ``id`` is refused, as a file names
    subjects by their identifiers.
    """
    if not isinstance(ref, Mapping):
        raise InvalidField(field, "must be an object with uscc, idNumber or id")
    if len(ref) == 1 and (given := next(iter(ref.items())))[0] in _SUBJECT_FIELDS and given[1]:
        kind, value = given  # the usual case, and a bulk import's: one identifier, nothing else
    else:
        unknown = sorted(str(k) for k in ref if k not in _SUBJECT_FIELDS)
        if unknown:
            raise InvalidField(f"{field}.{unknown[0]}", "is not a SubjectRef field (uscc, idNumber or id)")
        present = [(k, ref.get(k)) for k in _SUBJECT_FIELDS if ref.get(k)]
        if len(present) != 1:
            raise InvalidField(field, "must give exactly one of uscc, idNumber or id")
        kind, value = present[0]
    if not isinstance(value, str):
        raise InvalidField(f"{field}.{kind}", "must be a string")
    try:
        if kind == "uscc":
            return SubjectKey("uscc", identifiers.validate_uscc(value))
        if kind == "idNumber":
            return SubjectKey("id_number", identifiers.validate_id_number(value, today=today))
    except identifiers.InvalidIdentifier as exc:
        raise InvalidField(f"{field}.{kind}", exc.reason) from None
    if parse_id is None:
        raise InvalidField(f"{field}.id", "a file names its subjects by uscc or idNumber, not by id")
    try:
        return SubjectKey("id", parse_id(value))
    except ValueError as exc:
        raise InvalidField(f"{field}.id", str(exc)) from None


def _enum(kind: type[_E], members: Mapping[str, _E], value: object, field: str) -> _E:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        member = members.get(value) or members.get(value.strip())  # a dict look-up: kind(value) costs 8 times more
        if member is not None:
            return member
    # The value itself is not repeated: a misplaced column could put an ID number here (personal information).
    raise InvalidField(field, f"is not a {kind.__name__}: one of {', '.join(m.value for m in kind)}")


def _parser(kind: type[_E]) -> Callable[[object, str], _E]:
    return functools.partial(_enum, kind, {m.value: m for m in kind})


def _enum_parser(field: RecordField) -> Callable[[object, str], StrEnum]:
    if field.enum is None:
        raise TypeError(f"the enum field {field.name} names no enum")
    return _parser(field.enum)


def _date(value: object, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidField(field, "is not a date YYYY-MM-DD")


def _text(value: object, field: str) -> str:
    if isinstance(value, str):
        return value
    raise InvalidField(field, "must be a string")


def _boolean(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidField(field, "must be true or false")


# The fields parsed one by one, in the order their problems are reported: (field, parser, required). Kind by
# kind, each in the order of RECORD_CONTENT; the subject's name is the first optional text. ``details`` is not
# parsed: with_typed_details and check_draft judge it.
_PARSED_FIELDS: tuple[tuple[str, Callable[[object, str], Any], bool], ...] = (
    *((f.input, _enum_parser(f), f.required) for f in _ENUMS),
    *((f, _text, True) for f in _REQUIRED_TEXT),
    *((f, _text, False) for f in _OPTIONAL_TEXT),
    *((f.input, _date, f.required) for f in _DATES),
    *((f.input, _boolean, f.required) for f in _BOOLEANS),
)


def _parse_fields(item: Mapping[str, Any], problems: list[tuple[str, str]]) -> dict[str, Any]:
    """Each field of ``_PARSED_FIELDS`` parsed once (None when absent or bad); every problem is collected."""
    values: dict[str, Any] = {}
    for field, parse, required in _PARSED_FIELDS:
        value = item.get(field)
        if value is not None:
            try:
                value = parse(value, field)
            except InvalidField as problem:
                problems.append((problem.field, problem.message))
                value = None
        elif required:
            problems.append((field, "is required"))
        values[field] = value
    return values


def build_rows(
    items: Sequence[Mapping[str, Any]],
    *,
    today: date,
    start_index: int = 0,
    own_unit: str | None = None,
    parse_subject_id: Callable[[str], int] | None = None,
) -> tuple[list[ImportRow], list[RowError]]:
    """Parse and check RecordInput-shaped items; row ``i`` of ``items`` has index ``start_index + i``.

    Returns the rows that passed and every problem found (index, field in camelCase, reason). A caller writes
    the rows only when there is no problem at all (all or nothing). ``own_unit``: the only source unit the
    caller may write records of (a source unit's client, policy.md). ``parse_subject_id``: see ``subject_key_of``.
    """
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    for position, item in enumerate(items):
        index = start_index + position
        if not isinstance(item, dict) and not isinstance(item, Mapping):  # the first test is the cheap one
            errors.append(RowError(index, None, "must be a RecordInput object"))
            continue
        problems: list[tuple[str, str]] = []
        if not _FIELD_SET.issuperset(item):
            problems += [(str(k), "is not a RecordInput field") for k in item if k not in _FIELD_SET]
        key: SubjectKey | None = None
        if item.get("subject") is None:
            problems.append(("subject", "is required"))
        else:
            try:
                key = subject_key_of(item["subject"], today=today, parse_id=parse_subject_id)
            except InvalidField as problem:
                problems.append((problem.field, problem.message))
        v = _parse_fields(item, problems)
        v["details"], typed_problems = with_typed_details(v["type"], item.get("details"), item)
        problems += [(p.field, p.message) for p in typed_problems]
        if all(v[f] is not None for f in _REQUIRED):
            draft = RecordDraft._make(_DRAFT_VALUES(v))
            judged = check_draft(draft, today=today)
            if judged:  # a field that did not parse is not judged again (a bad severity is not also "missing")
                parsed = {field for field, _ in problems}
                problems += [(p.field, p.message) for p in judged if p.field not in parsed]
            if own_unit is not None and draft.source_unit.strip() != own_unit:
                problems.append(("sourceUnit", f"this client writes only records of {own_unit} (policy.md)"))
            if not problems and key is not None:
                rows.append(ImportRow.of(index, key, v["subjectName"], draft))
        if problems:
            errors += [RowError(index, field, message) for field, message in problems]
    return rows, errors


async def land_chunk(conn: AsyncConnection, rows: Sequence[ImportRow], *, actor: str, pii: PiiCipher) -> ImportOutcome:
    """Write one batch of a bulk import (all or nothing) and queue every subject it touched for recomputation
    (store.pending), in the caller's transaction; the import drains the queue once its records have landed.

    When the outcome has errors nothing was written; the caller rolls its transaction back all the same.
    """
    return await imports.import_records(conn, rows, actor=actor, pii=pii, queue=True)


async def land_accepted_rows(
    conn: AsyncConnection, rows: Sequence[ImportRow], *, actor: str, pii: PiiCipher
) -> tuple[ImportOutcome, list[RowError]]:
    """Write, as ``land_chunk`` does, the rows the store accepts; the problems of the rows it skipped.

    The problems here are those only the database can tell in rows that passed ``build_rows``: an unknown
    subject without subjectName, a decision number this source unit recorded before with other content, a
    decision number repeated with other content. Each is one row's: that row is skipped and the others are
    written in the caller's transaction. ``import_records`` writes nothing when it finds a problem, so the rows
    left are shown to it again, until it accepts them all (dropping rows only takes problems away).

    A first refusal is not taken on trust: the rows are all shown once more. The store looks up the subjects,
    then the decision numbers; a chunk written side by side that commits in between (the same subject and
    decision number, in a row of the same content) makes a row look like a resend with other content: its
    subject not known yet, its decision number recorded already. The second look sees that commit.
    """
    skipped: list[RowError] = []
    left = list(rows)
    looked_again = False
    while True:
        outcome = await imports.import_records(conn, left, actor=actor, pii=pii, queue=True)
        if not outcome.errors:
            return outcome, skipped
        if not looked_again:
            looked_again = True
            continue
        skipped += outcome.errors
        bad = {e.index for e in outcome.errors}
        left = [r for r in left if r.index not in bad]
