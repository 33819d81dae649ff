"""Tests for the repair use cases' checks that need no database: the statement as the credit commitment and an
application decided already (the workflows themselves are exercised through the API in tests/schema/test_repairs.py)."""

from __future__ import annotations

import pytest

from domain.publicity import COMMITMENT_MISSING
from domain.taxonomy import RecordType, RepairStatus
from services import repairs
from services.errors import BadUserInput, Conflict
from tests.services.rows import record_row, repair_row


def test_the_statement_is_the_commitment_unless_commitment_says_otherwise() -> None:
    row = record_row()
    assert repairs.committed_statement(" 承诺 ", None, row) == ("承诺", True)
    assert repairs.committed_statement("说明", False, row) == ("说明", False)


def test_a_blank_statement_is_a_missing_commitment_citing_its_rule() -> None:
    with pytest.raises(BadUserInput) as refused:
        repairs.committed_statement("  ", None, record_row(type=RecordType.WAGE_ARREARS_BLACKLIST.value))
    assert refused.value.extensions["condition"] == COMMITMENT_MISSING
    assert refused.value.extensions["field"] == "statement"
    assert refused.value.extensions["article"] == repairs.commitment_article(
        record_row(type=RecordType.WAGE_ARREARS_BLACKLIST.value)
    )


def test_a_blank_statement_with_commitment_given_is_an_empty_text() -> None:
    with pytest.raises(BadUserInput) as refused:
        repairs.committed_statement("  ", True, record_row())
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "statement"}


def test_only_an_open_application_is_decided() -> None:
    repairs.check_open(repair_row(RepairStatus.SUBMITTED))
    with pytest.raises(Conflict) as refused:
        repairs.check_open(repair_row(RepairStatus.APPROVED))
    assert refused.value.message == "the application is already decided (APPROVED)"
