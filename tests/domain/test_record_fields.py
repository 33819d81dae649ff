"""The table of a record's content fields (domain.records.RECORD_CONTENT) and the draft written out beside it."""

from __future__ import annotations

import re
import typing
from datetime import date
from typing import Any

from domain.records import RECORD_CONTENT, FieldKind, RecordDraft, RecordField, check_draft
from domain.taxonomy import RecordType

_KIND_TYPES: dict[FieldKind, Any] = {FieldKind.TEXT: str, FieldKind.DATE: date, FieldKind.BOOL: bool}


def _type_of(field: RecordField) -> Any:
    if field.kind is FieldKind.JSON:
        return Any
    base = field.enum if field.kind is FieldKind.ENUM else _KIND_TYPES[field.kind]
    return base if field.required else base | None


def test_the_draft_has_the_tables_fields_in_its_order() -> None:
    assert RecordDraft._fields == tuple(f.name for f in RECORD_CONTENT)


def test_each_field_of_the_draft_is_typed_as_its_kind_and_none_unless_required() -> None:
    hints = typing.get_type_hints(RecordDraft)
    assert {f.name: hints[f.name] for f in RECORD_CONTENT} == {f.name: _type_of(f) for f in RECORD_CONTENT}


def test_an_input_name_is_the_camel_case_of_the_name_and_both_are_unique() -> None:
    for field in RECORD_CONTENT:
        assert field.input == re.sub(r"_([a-z])", lambda m: m[1].upper(), field.name)
    assert len({f.name for f in RECORD_CONTENT}) == len({f.input for f in RECORD_CONTENT}) == len(RECORD_CONTENT)


def test_an_enum_field_and_only_an_enum_field_names_its_enum() -> None:
    assert all((f.kind is FieldKind.ENUM) == (f.enum is not None) for f in RECORD_CONTENT)


def test_a_required_text_field_left_blank_is_named_by_its_input_name() -> None:
    draft = RecordDraft(
        type=RecordType.AWARD,
        category=None,
        severity=None,
        title="上海市劳动模范",
        decision_number=" ",
        source_unit="x" * 501,
        legal_basis=None,
        occurred_on=None,
        decided_on=date(2024, 4, 28),
        publicity_until=None,
        penalty_fulfilled=None,
        corrected_on=None,
        details=None,
    )
    assert [(p.field, p.message) for p in check_draft(draft, today=date(2026, 5, 11))] == [
        ("decisionNumber", "must not be empty"),
        ("sourceUnit", "must be at most 500 characters"),
    ]
