"""The lists of a record's fields that the store and the schema derive from domain.records.RECORD_CONTENT, and
those written out beside it for their types."""

from __future__ import annotations

import typing

from domain.records import RECORD_CONTENT, FieldKind, RecordDraft
from store.records import CONTENT_FIELDS, RecordRow
from store.tables import credit_records


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
