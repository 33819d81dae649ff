"""The typed carriers of rules in RecordInput (domain/records.py ``with_typed_details``)."""

from __future__ import annotations

from domain.records import with_typed_details
from domain.taxonomy import RecordType


def test_wg_art_9_2_the_attestation_is_kept_under_its_details_key() -> None:
    details, problems = with_typed_details(
        RecordType.HARMONIOUS_LABOR_RELATIONS, {"valid_until": "2027-12-31"}, {"laborContractAttested": True}
    )
    assert problems == [] and details == {"valid_until": "2027-12-31", "labor_contract_attested": True}
    details, problems = with_typed_details(
        RecordType.HARMONIOUS_LABOR_RELATIONS, None, {"laborContractAttested": False}
    )
    assert problems == [] and details == {"labor_contract_attested": False}


def test_wg_art_9_2_the_older_details_key_alone_is_still_accepted() -> None:
    given = {"labor_contract_attested": True}
    assert with_typed_details(RecordType.HARMONIOUS_LABOR_RELATIONS, given, {}) == (given, [])


def test_sh_art_5_2_harm_eliminated_applies_to_a_penalty_only() -> None:
    details, problems = with_typed_details(RecordType.ADMINISTRATIVE_PENALTY, None, {"harmEliminated": True})
    assert problems == [] and details == {"harm_eliminated": True}
    _, problems = with_typed_details(RecordType.FALSE_MATERIALS, None, {"harmEliminated": True})
    assert [(p.field, p.message.split(" (")[0]) for p in problems] == [
        ("harmEliminated", "applies only to ADMINISTRATIVE_PENALTY records")
    ]


def test_a_typed_field_that_contradicts_details_is_refused_naming_it() -> None:
    _, problems = with_typed_details(
        RecordType.ADMINISTRATIVE_PENALTY, {"harm_eliminated": False}, {"harmEliminated": True}
    )
    assert [p.field for p in problems] == ["harmEliminated"] and "details.harm_eliminated" in problems[0].message
    _, problems = with_typed_details(RecordType.ADMINISTRATIVE_PENALTY, None, {"harmEliminated": "yes"})
    assert [(p.field, p.message) for p in problems] == [("harmEliminated", "must be true or false")]
