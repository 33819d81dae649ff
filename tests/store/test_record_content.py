"""A record's stored content and digest, and the problems a row is refused with, as fixed values.

The digest of a record already written is compared with the digest of a resent one (store.imports): the content a
draft gives and its digest must never change, nor may the fields, messages and order of the problems a client is
told. Every value here is a literal, not recomputed by the code under test.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.identifiers import make_uscc
from domain.records import RecordDraft
from domain.taxonomy import RecordCategory, RecordType, Severity
from schema.subjects import SubjectRef
from schema.writes import RecordInput, _record_item
from store import bulk
from store.imports import SubjectKey, draft_content
from store.records import content_digest

TODAY = date(2026, 5, 11)
USCC = make_uscc("9", "1", "310000", "MA1FL8XQ")

FULL = RecordDraft(
    type=RecordType.ADMINISTRATIVE_PENALTY,
    category=RecordCategory.DISHONESTY,
    severity=Severity.GENERAL,
    title="  一般程序行政处罚：未按时足额支付劳动报酬 ",
    decision_number=" 沪人社监罚〔2024〕17号",
    source_unit="上海市人力资源和社会保障局执法总队\t",
    legal_basis=" 《劳动保障监察条例》第二十六条 ",
    occurred_on=date(2024, 1, 15),
    decided_on=date(2024, 3, 1),
    publicity_until=date(2025, 3, 1),
    penalty_fulfilled=True,
    corrected_on=date(2024, 4, 2),
    details={"amount_yuan": 30000, "harm_eliminated": False, "workers": ["甲", "乙"]},
)
BARE = RecordDraft(
    type=RecordType.AWARD,
    category=None,
    severity=None,
    title="上海市劳动模范",
    decision_number="沪府〔2024〕3号",
    source_unit="上海市人民政府",
    legal_basis=None,
    occurred_on=None,
    decided_on=date(2024, 4, 28),
    publicity_until=None,
    penalty_fulfilled=None,
    corrected_on=None,
    details=None,
)
BARE_CONTENT: dict[str, Any] = {
    "type": "AWARD",
    "category": "ENHANCING",
    "severity": None,
    "title": "上海市劳动模范",
    "decision_number": "沪府〔2024〕3号",
    "source_unit": "上海市人民政府",
    "legal_basis": None,
    "occurred_on": None,
    "decided_on": date(2024, 4, 28),
    "publicity_until": None,
    "penalty_fulfilled": None,
    "corrected_on": None,
    "details": None,
}
BARE_DIGEST = "e6a5c209c2d0c7b605ce5dbcb630436639ff0602741d5c3926029d80411d380b"


def test_a_full_draft_is_stored_trimmed_with_enum_values_and_its_digest_is_fixed() -> None:
    content = draft_content(FULL)
    assert list(content.items()) == [
        ("type", "ADMINISTRATIVE_PENALTY"),
        ("category", "DISHONESTY"),
        ("severity", "GENERAL"),
        ("title", "一般程序行政处罚：未按时足额支付劳动报酬"),
        ("decision_number", "沪人社监罚〔2024〕17号"),
        ("source_unit", "上海市人力资源和社会保障局执法总队"),
        ("legal_basis", "《劳动保障监察条例》第二十六条"),
        ("occurred_on", date(2024, 1, 15)),
        ("decided_on", date(2024, 3, 1)),
        ("publicity_until", date(2025, 3, 1)),
        ("penalty_fulfilled", True),
        ("corrected_on", date(2024, 4, 2)),
        ("details", {"amount_yuan": 30000, "harm_eliminated": False, "workers": ["甲", "乙"]}),
    ]
    assert content_digest(content) == "72cf3997a0de5f74e123f37c40e6ad5c56add1c673207730a38ca12f8decc459"


def test_a_bare_draft_stores_the_category_of_its_type_and_nulls_and_its_digest_is_fixed() -> None:
    assert draft_content(BARE) == BARE_CONTENT
    assert content_digest(draft_content(BARE)) == BARE_DIGEST


def test_an_empty_legal_basis_is_stored_as_null_and_a_blank_one_as_empty_text() -> None:
    assert draft_content(BARE._replace(legal_basis="")) == BARE_CONTENT
    blank = draft_content(BARE._replace(legal_basis="  ", penalty_fulfilled=False, details={}))
    assert blank == {**BARE_CONTENT, "legal_basis": "", "penalty_fulfilled": False, "details": {}}
    assert content_digest(blank) == "318d0e64c8ae574b03d361ea8f07d01268817c9f6eb657b91da88f9ae8a95f02"


JSON_LINE: dict[str, Any] = {
    "subject": {"uscc": USCC},
    "subjectName": " 上海示例 ",
    "type": "ADMINISTRATIVE_PENALTY",
    "category": "DISHONESTY",
    "severity": " GENERAL",
    "title": " 一般程序行政处罚 ",
    "decisionNumber": "沪人社监罚〔2024〕17号 ",
    "sourceUnit": "上海市人力资源和社会保障局执法总队",
    "legalBasis": "《劳动保障监察条例》第二十六条",
    "occurredOn": "2024-01-15",
    "decidedOn": " 2024-03-01",
    "publicityUntil": "2025-03-01",
    "penaltyFulfilled": True,
    "correctedOn": "2024-04-02",
    "harmEliminated": False,
    "details": {"amount_yuan": 30000},
}
JSON_LINE_DIGEST = "1d1d27c9b4c91b03536dc5e701d66f63c1e3de369434e854d0297e32c054aa42"


def test_a_json_line_is_parsed_into_the_stored_content_and_its_digest_is_fixed() -> None:
    rows, errors = bulk.build_rows([JSON_LINE], today=TODAY)
    assert errors == []
    (row,) = rows
    assert (row.subject, row.subject_name) == (SubjectKey("uscc", USCC), " 上海示例 ")
    assert row.draft == RecordDraft(
        type=RecordType.ADMINISTRATIVE_PENALTY,
        category=RecordCategory.DISHONESTY,
        severity=Severity.GENERAL,
        title=" 一般程序行政处罚 ",
        decision_number="沪人社监罚〔2024〕17号 ",
        source_unit="上海市人力资源和社会保障局执法总队",
        legal_basis="《劳动保障监察条例》第二十六条",
        occurred_on=date(2024, 1, 15),
        decided_on=date(2024, 3, 1),
        publicity_until=date(2025, 3, 1),
        penalty_fulfilled=True,
        corrected_on=date(2024, 4, 2),
        details={"amount_yuan": 30000, "harm_eliminated": False},
    )
    assert row.content == {
        "type": "ADMINISTRATIVE_PENALTY",
        "category": "DISHONESTY",
        "severity": "GENERAL",
        "title": "一般程序行政处罚",
        "decision_number": "沪人社监罚〔2024〕17号",
        "source_unit": "上海市人力资源和社会保障局执法总队",
        "legal_basis": "《劳动保障监察条例》第二十六条",
        "occurred_on": date(2024, 1, 15),
        "decided_on": date(2024, 3, 1),
        "publicity_until": date(2025, 3, 1),
        "penalty_fulfilled": True,
        "corrected_on": date(2024, 4, 2),
        "details": {"amount_yuan": 30000, "harm_eliminated": False},
    }
    assert row.digest == JSON_LINE_DIGEST


def test_the_mutations_input_gives_the_row_and_digest_of_the_same_json_line() -> None:
    given = RecordInput(
        subject=SubjectRef(uscc=USCC),
        subject_name=" 上海示例 ",
        type=RecordType.ADMINISTRATIVE_PENALTY,
        category=RecordCategory.DISHONESTY,
        severity=Severity.GENERAL,
        title=" 一般程序行政处罚 ",
        decision_number="沪人社监罚〔2024〕17号 ",
        source_unit="上海市人力资源和社会保障局执法总队",
        legal_basis="《劳动保障监察条例》第二十六条",
        occurred_on=date(2024, 1, 15),
        decided_on=date(2024, 3, 1),
        publicity_until=date(2025, 3, 1),
        penalty_fulfilled=True,
        corrected_on=date(2024, 4, 2),
        harm_eliminated=False,
        details={"amount_yuan": 30000},
    )
    item = _record_item(given)
    assert item == {
        "subject": {"uscc": USCC, "idNumber": None, "id": None},
        "subjectName": " 上海示例 ",
        "type": RecordType.ADMINISTRATIVE_PENALTY,
        "category": RecordCategory.DISHONESTY,
        "severity": Severity.GENERAL,
        "title": " 一般程序行政处罚 ",
        "decisionNumber": "沪人社监罚〔2024〕17号 ",
        "sourceUnit": "上海市人力资源和社会保障局执法总队",
        "legalBasis": "《劳动保障监察条例》第二十六条",
        "occurredOn": date(2024, 1, 15),
        "decidedOn": date(2024, 3, 1),
        "publicityUntil": date(2025, 3, 1),
        "penaltyFulfilled": True,
        "correctedOn": date(2024, 4, 2),
        "laborContractAttested": None,
        "harmEliminated": False,
        "details": {"amount_yuan": 30000},
    }
    rows, errors = bulk.build_rows([item], today=TODAY)
    assert errors == []
    assert [r.digest for r in rows] == [JSON_LINE_DIGEST]
    assert rows == bulk.build_rows([JSON_LINE], today=TODAY)[0]


def test_bad_rows_are_told_their_problems_with_the_same_fields_messages_and_order() -> None:
    unparsable = {
        "subject": {"uscc": "bad"},
        "subjectName": 3,
        "type": "PENALTY",
        "category": "X",
        "severity": "Y",
        "title": 5,
        "sourceUnit": ["a"],
        "legalBasis": 4,
        "occurredOn": "2024-13-01",
        "publicityUntil": "x",
        "correctedOn": 7,
        "penaltyFulfilled": "yes",
        "laborContractAttested": "no",
        "foo": 1,
    }
    misjudged = {
        "subject": {"idNumber": "x"},
        "type": "WAGE_ARREARS_BLACKLIST",
        "category": "ENHANCING",
        "severity": "GENERAL",
        "title": "  ",
        "decisionNumber": "a" * 501,
        "sourceUnit": "",
        "occurredOn": "2027-01-01",
        "decidedOn": "2026-06-01",
        "correctedOn": "2026-07-01",
        "publicityUntil": "2026-01-01",
        "harmEliminated": True,
        "details": [1],
    }
    unbased = {
        "subject": {},
        "type": "ADMINISTRATIVE_PENALTY",
        "severity": "SERIOUS",
        "title": "t",
        "decisionNumber": "n",
        "sourceUnit": "u",
        "decidedOn": "2026-01-01",
        "penaltyFulfilled": 1,
        "details": "x",
    }
    rows, errors = bulk.build_rows([unparsable, misjudged, unbased, "a row"], today=TODAY, start_index=1)
    assert rows == []
    assert [(e.index, e.field, e.message) for e in errors] == [
        (1, "foo", "is not a RecordInput field"),
        (1, "subject.uscc", "A unified social credit code must be 18 characters long."),
        (
            1,
            "type",
            "is not a RecordType: one of WAGE_ARREARS_BLACKLIST, ADMINISTRATIVE_PENALTY, FALSE_MATERIALS, "
            "BROKEN_COMMITMENT, JUDGMENT_DEFAULTER, VIOLATION_CORRECTED, ARBITRATION_LOST, AWARD, "
            "HARMONIOUS_LABOR_RELATIONS, INTERVIEW",
        ),
        (1, "category", "is not a RecordCategory: one of BASIC, ENHANCING, DISHONESTY"),
        (1, "severity", "is not a Severity: one of MINOR, GENERAL, SERIOUS"),
        (1, "title", "must be a string"),
        (1, "decisionNumber", "is required"),
        (1, "sourceUnit", "must be a string"),
        (1, "subjectName", "must be a string"),
        (1, "legalBasis", "must be a string"),
        (1, "occurredOn", "is not a date YYYY-MM-DD"),
        (1, "decidedOn", "is required"),
        (1, "publicityUntil", "is not a date YYYY-MM-DD"),
        (1, "correctedOn", "is not a date YYYY-MM-DD"),
        (1, "penaltyFulfilled", "must be true or false"),
        (1, "laborContractAttested", "must be true or false"),
        (2, "subject.idNumber", "A resident identity card number must be 18 characters long."),
        (
            2,
            "harmEliminated",
            "applies only to ADMINISTRATIVE_PENALTY records "
            "(SH art. 5(2): the party eliminated or mitigated the harm of the violation)",
        ),
        (2, "category", "WAGE_ARREARS_BLACKLIST is a DISHONESTY record, not ENHANCING (WG art. 5)"),
        (2, "title", "must not be empty"),
        (2, "decisionNumber", "must be at most 500 characters"),
        (2, "sourceUnit", "must not be empty"),
        (2, "severity", "a WAGE_ARREARS_BLACKLIST listing is serious dishonesty (SH art. 9)"),
        (2, "decidedOn", "the decision date is in the future"),
        (2, "occurredOn", "the violation cannot have occurred after the decision"),
        (2, "correctedOn", "the correction date is in the future"),
        (2, "publicityUntil", "the publicity window ends before the decision date"),
        (2, "details", "must be a JSON object"),
        (3, "subject", "must give exactly one of uscc, idNumber or id"),
        (3, "penaltyFulfilled", "must be true or false"),
        (
            3,
            "legalBasis",
            "serious dishonesty needs its legal basis: a law, regulation or central policy document (SH art. 5)",
        ),
        (3, "details", "must be a JSON object"),
        (4, None, "must be a RecordInput object"),
    ]
