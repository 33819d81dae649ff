"""Subject look-up, listing and identity fields through the real app with real tokens."""

from __future__ import annotations

from typing import Any

from tests import factories
from tests.conftest import Api

SUBJECT = """
query ($ref: SubjectRef!) {
  subject(ref: $ref) { id kind name uscc idNumberMasked regionCode legalRepresentative { name idNumberMasked } }
}
"""


def refused_by_schema(body: dict[str, Any], type_name: str, field: str) -> bool:
    """The field is not in the caller's schema: validation fails as for any unknown field, with no suggestion."""
    messages = [e["message"] for e in body.get("errors", [])]
    return body.get("data") is None and any(
        f"Cannot query field '{field}' on type '{type_name}'." == m for m in messages
    )


def error_codes(body: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    return [(e["extensions"].get("code"), e["extensions"].get("field")) for e in body.get("errors", [])]


async def test_subject_by_uscc_returns_identity_fields(api: Api) -> None:
    rep = await factories.individual(api.engine, "李四")
    org = await factories.organization(api.engine, "上海示例科技有限公司", legal_representative_id=rep["id"])
    body = await api.gql(SUBJECT, {"ref": {"uscc": org["uscc"]}})
    subject = body["data"]["subject"]
    assert subject["kind"] == "ORGANIZATION"
    assert subject["name"] == "上海示例科技有限公司"
    assert subject["uscc"] == org["uscc"]
    assert subject["regionCode"] == "310104"
    assert subject["legalRepresentative"]["name"] == "李四"
    masked = subject["legalRepresentative"]["idNumberMasked"]
    assert masked == rep["id_number"][:6] + "********" + rep["id_number"][-4:]


async def test_uscc_lookup_accepts_lower_case_and_spaces(api: Api) -> None:
    org = await factories.organization(api.engine)
    spaced = " " + org["uscc"][:9].lower() + " " + org["uscc"][9:] + " "
    body = await api.gql(SUBJECT, {"ref": {"uscc": spaced}})
    assert body["data"]["subject"]["uscc"] == org["uscc"]


async def test_subject_by_id_number_and_by_global_id(api: Api) -> None:
    person = await factories.individual(api.engine, "王五")
    by_number = await api.gql(SUBJECT, {"ref": {"idNumber": person["id_number"]}})
    subject = by_number["data"]["subject"]
    assert subject["name"] == "王五" and subject["kind"] == "INDIVIDUAL" and subject["uscc"] is None
    by_id = await api.gql(SUBJECT, {"ref": {"id": subject["id"]}})
    assert by_id["data"]["subject"] == subject


async def test_invalid_uscc_is_bad_user_input_naming_the_field(api: Api) -> None:
    valid = factories.new_uscc()
    wrong = valid[:-1] + ("1" if valid[-1] != "1" else "2")
    body = await api.gql(SUBJECT, {"ref": {"uscc": wrong}})
    assert body["data"]["subject"] is None
    assert error_codes(body) == [("BAD_USER_INPUT", "ref.uscc")]


async def test_invalid_id_number_is_bad_user_input_without_echoing_it(api: Api) -> None:
    number = factories.new_id_number()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    body = await api.gql(SUBJECT, {"ref": {"idNumber": wrong}})
    assert error_codes(body) == [("BAD_USER_INPUT", "ref.idNumber")]
    assert wrong not in str(body)


async def test_ref_with_no_identifier_or_two_is_bad_user_input(api: Api) -> None:
    org = await factories.organization(api.engine)
    for ref in ({}, {"uscc": org["uscc"], "idNumber": factories.new_id_number()}):
        body = await api.gql(SUBJECT, {"ref": ref})
        assert error_codes(body) == [("BAD_USER_INPUT", "ref")], ref


async def test_unknown_but_valid_identifiers_give_null_not_an_error(api: Api) -> None:
    from schema.ids import global_id

    for ref in (
        {"uscc": factories.new_uscc()},
        {"idNumber": factories.new_id_number()},
        {"id": global_id("Subject", 987654321)},
    ):
        body = await api.gql(SUBJECT, {"ref": ref})
        assert body == {"data": {"subject": None}}, ref


async def test_malformed_global_id_is_bad_user_input(api: Api) -> None:
    body = await api.gql(SUBJECT, {"ref": {"id": "not-an-id!"}})
    assert error_codes(body) == [("BAD_USER_INPUT", "ref.id")]


async def test_full_id_number_needs_the_pii_scope(api: Api) -> None:
    person = await factories.individual(api.engine)
    query = "query ($ref: SubjectRef!) { subject(ref: $ref) { idNumberMasked idNumber } }"
    purpose = {"X-Purpose": "case-2026-001"}
    admin = await api.gql(query, {"ref": {"idNumber": person["id_number"]}}, as_client="admin", headers=purpose)
    assert admin["data"]["subject"]["idNumber"] == person["id_number"]
    # Without a stated purpose even the PII scope does not get it.
    no_purpose = await api.gql(query, {"ref": {"idNumber": person["id_number"]}}, as_client="admin")
    assert no_purpose["data"]["subject"]["idNumber"] is None
    assert no_purpose["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert person["id_number"] not in str(no_purpose)
    inspection = await api.gql(query, {"ref": {"idNumber": person["id_number"]}}, as_client="inspection")
    assert refused_by_schema(inspection, "Subject", "idNumber")
    assert person["id_number"] not in str(inspection)
    masked = await api.gql(
        "query ($ref: SubjectRef!) { subject(ref: $ref) { idNumberMasked } }",
        {"ref": {"idNumber": person["id_number"]}},
        as_client="inspection",
    )
    assert masked["data"]["subject"]["idNumberMasked"].count("*") == 8


async def test_lookup_without_subject_read_is_forbidden(api: Api) -> None:
    org = await factories.organization(api.engine)
    body = await api.gql(SUBJECT, {"ref": {"uscc": org["uscc"]}}, as_client="auditor")
    assert refused_by_schema(body, "Query", "subject")


LIST = """
query ($first: Int, $after: String, $name: String, $kind: SubjectKind) {
  subjects(first: $first, after: $after, nameContains: $name, kind: $kind) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name kind } }
  }
}
"""


async def test_subjects_pages_chain_by_cursor_without_overlap(api: Api) -> None:
    for i in range(5):
        await factories.organization(api.engine, f"上海分页{i}有限公司")
    await factories.individual(api.engine, "赵六")
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await api.gql(LIST, {"first": 2, "after": after})
        conn = body["data"]["subjects"]
        assert conn["totalCount"] == 6
        seen += [e["node"]["name"] for e in conn["edges"]]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
        assert after == conn["edges"][-1]["cursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 6


async def test_subjects_filter_by_name_and_kind(api: Api) -> None:
    await factories.organization(api.engine, "上海百分之百%科技有限公司")
    await factories.organization(api.engine, "上海另一家公司")
    await factories.individual(api.engine, "百分之百")
    body = await api.gql(LIST, {"name": "百%", "kind": "ORGANIZATION"})
    conn = body["data"]["subjects"]
    assert [e["node"]["name"] for e in conn["edges"]] == ["上海百分之百%科技有限公司"]
    assert conn["totalCount"] == 1
    # The % is matched literally, not as a wildcard.
    body = await api.gql(LIST, {"name": "%"})
    assert body["data"]["subjects"]["totalCount"] == 1


async def test_page_size_and_cursor_are_validated(api: Api) -> None:
    body = await api.gql(LIST, {"first": 101})
    assert error_codes(body) == [("BAD_USER_INPUT", "first")]
    body = await api.gql(LIST, {"after": "garbage"})
    assert error_codes(body) == [("BAD_USER_INPUT", "after")]
