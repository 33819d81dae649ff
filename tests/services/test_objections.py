"""Tests for the objection use cases' checks that need no database: the texts, the decision's status and what a
correction changes (the workflows themselves are exercised through the API in tests/schema/test_objections.py)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.taxonomy import ObjectionStatus
from services import objections, texts
from services.errors import BadUserInput, Conflict
from tests.services.rows import objection_row, record_row

TODAY = date(2026, 3, 2)


def test_required_text_is_trimmed_and_bounded() -> None:
    assert texts.required_text("  理由  ", "reason") == "理由"
    with pytest.raises(BadUserInput) as blank:
        texts.required_text(" \n", "reason")
    assert blank.value.extensions == {"code": "BAD_USER_INPUT", "field": "reason"}
    with pytest.raises(BadUserInput) as long:
        texts.required_text("字" * (texts.MAX_TEXT + 1), "decision")
    assert long.value.message == f"decision must be at most {texts.MAX_TEXT} characters"


def test_a_decided_objection_is_not_decided_again() -> None:
    with pytest.raises(Conflict):
        objections.decided_status(objection_row(ObjectionStatus.REJECTED), correct=True, correction=None)


def test_a_rejection_names_no_correction() -> None:
    correction = objections.Correction(changes={"title": "另一标题"})
    with pytest.raises(BadUserInput) as refused:
        objections.decided_status(objection_row(ObjectionStatus.SUBMITTED), correct=False, correction=correction)
    assert refused.value.extensions["field"] == "correction"


def test_the_decision_status_follows_correct() -> None:
    submitted = objection_row(ObjectionStatus.SUBMITTED)
    assert objections.decided_status(submitted, correct=True, correction=None) is ObjectionStatus.CORRECTED
    assert objections.decided_status(submitted, correct=False, correction=None) is ObjectionStatus.REJECTED


def test_a_correction_keeps_what_it_does_not_name() -> None:
    row = record_row()
    content = objections.corrected_content(row, objections.Correction(changes={"penalty_fulfilled": True}), today=TODAY)
    assert content["penalty_fulfilled"] is True
    assert content["title"] == row.title
    assert content["legal_basis"] == row.legal_basis


def test_a_correction_that_changes_nothing_names_its_fields_in_graphql_spelling_and_order() -> None:
    row = record_row()
    same = objections.Correction(changes={"title": row.title, "legal_basis": row.legal_basis})
    with pytest.raises(BadUserInput) as refused:
        objections.corrected_content(row, same, today=TODAY)
    assert refused.value.extensions["field"] == "correction"
    assert refused.value.extensions["unchanged"] == ["correction.legalBasis", "correction.title"]


def test_no_correction_at_all_changes_nothing() -> None:
    with pytest.raises(BadUserInput) as refused:
        objections.corrected_content(record_row(), None, today=TODAY)
    assert refused.value.extensions["unchanged"] == []


def test_a_blank_title_is_refused_by_name() -> None:
    with pytest.raises(BadUserInput) as refused:
        objections.corrected_content(record_row(), objections.Correction(changes={"title": " "}), today=TODAY)
    assert refused.value.extensions["field"] == "correction.title"
