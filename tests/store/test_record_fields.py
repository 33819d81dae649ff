"""The lists of a record's fields that the store and the schema derive from domain.records.RECORD_CONTENT, and
those written out beside it for their types: RecordRow and the contract's RecordInput."""

from __future__ import annotations

import typing

from graphql import GraphQLInputObjectType

from domain.records import RECORD_CONTENT, TYPED_DETAILS, FieldKind, RecordDraft, RecordField
from schema.build import build_schema
from store import bulk
from store.records import CONTENT_FIELDS, RecordRow
from store.tables import credit_records

_GRAPHQL_TYPES = {FieldKind.TEXT: "String", FieldKind.DATE: "Date", FieldKind.BOOL: "Boolean", FieldKind.JSON: "JSON"}


def _graphql_type(field: RecordField) -> str:
    named = field.enum.__name__ if field.enum is not None else _GRAPHQL_TYPES[field.kind]
    return f"{named}!" if field.required else named


def _record_input() -> dict[str, str]:
    """RecordInput's fields in the contract, in its order, with their GraphQL types."""
    record_input = build_schema()._schema.type_map["RecordInput"]
    assert isinstance(record_input, GraphQLInputObjectType)
    return {name: str(field.type) for name, field in record_input.fields.items()}


def test_every_content_field_is_a_column_of_credit_records_and_a_field_of_a_read_row() -> None:
    assert set(CONTENT_FIELDS) <= set(credit_records.c.keys())
    assert set(CONTENT_FIELDS) <= set(RecordRow.__slots__)


def test_a_read_row_holds_an_enum_as_its_value_and_every_other_field_as_the_draft_does() -> None:
    row = typing.get_type_hints(RecordRow)
    draft = typing.get_type_hints(RecordDraft)
    for field in RECORD_CONTENT:
        if field.kind is FieldKind.ENUM:
            assert row[field.name] in (str, str | None), field.name
        else:
            assert row[field.name] == draft[field.name], field.name


def test_record_input_has_the_subject_its_name_the_content_fields_and_the_typed_details_in_the_bulk_order() -> None:
    fields = _record_input()
    assert set(fields) == {
        "subject",
        "subjectName",
        *(f.input for f in RECORD_CONTENT),
        *(t.field for t in TYPED_DETAILS),
    }
    assert list(fields) == list(bulk.RECORD_FIELDS)


def test_a_content_field_of_record_input_has_the_graphql_type_of_its_kind_non_null_when_required() -> None:
    fields = _record_input()
    assert {f.input: fields[f.input] for f in RECORD_CONTENT} == {f.input: _graphql_type(f) for f in RECORD_CONTENT}
    assert {t.field: fields[t.field] for t in TYPED_DETAILS} == {t.field: "Boolean" for t in TYPED_DETAILS}
