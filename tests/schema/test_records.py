"""Subject.records, CreditRecord fields and node(id:), through the real app."""

from __future__ import annotations

from datetime import date

from domain.taxonomy import RecordType
from schema.ids import global_id
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import error_codes, refused_by_schema

RECORDS = """
query ($ref: SubjectRef!, $first: Int, $after: String, $category: RecordCategory, $all: Boolean) {
  subject(ref: $ref) {
    records(first: $first, after: $after, category: $category, includeInactive: $all) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { id type category severity status decisionNumber decidedOn published
                            legalBasis { document article text } } }
    }
  }
}
"""


async def test_records_newest_decision_first_with_pagination(api: Api) -> None:
    org = await factories.organization(api.engine)
    for month in (1, 5, 3):
        await factories.record(api.engine, org["id"], decided_on=date(2026, month, 10))
    body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}, "first": 2})
    conn = body["data"]["subject"]["records"]
    assert conn["totalCount"] == 3
    assert [e["node"]["decidedOn"] for e in conn["edges"]] == ["2026-05-10", "2026-03-10"]
    assert conn["pageInfo"]["hasNextPage"] is True
    body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}, "first": 2, "after": conn["pageInfo"]["endCursor"]})
    rest = body["data"]["subject"]["records"]
    assert [e["node"]["decidedOn"] for e in rest["edges"]] == ["2026-01-10"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 3


async def test_records_filter_by_category(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], RecordType.ADMINISTRATIVE_PENALTY)
    await factories.record(api.engine, org["id"], RecordType.AWARD, severity=None)
    body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}, "category": "ENHANCING"})
    edges = body["data"]["subject"]["records"]["edges"]
    assert [(e["node"]["type"], e["node"]["category"]) for e in edges] == [("AWARD", "ENHANCING")]


async def test_revoked_records_are_history_shown_only_with_include_inactive(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], status="REVOKED")
    await factories.record(api.engine, org["id"])
    active = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}})
    assert [e["node"]["status"] for e in active["data"]["subject"]["records"]["edges"]] == ["ACTIVE"]
    everything = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}, "all": True})
    statuses = sorted(e["node"]["status"] for e in everything["data"]["subject"]["records"]["edges"])
    assert statuses == ["ACTIVE", "REVOKED"]


async def test_legal_basis_is_split_into_document_and_article(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], legal_basis="《保障农民工工资支付条例》第四十八条")
    body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}})
    basis = body["data"]["subject"]["records"]["edges"][0]["node"]["legalBasis"]
    assert basis == {
        "document": "《保障农民工工资支付条例》",
        "article": "第四十八条",
        "text": "《保障农民工工资支付条例》第四十八条",
    }


async def test_published_is_derived_from_the_publicity_window(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], decided_on=date(2020, 1, 6), publicity_until=date(2020, 7, 6))
    await factories.record(api.engine, org["id"], decided_on=date(2026, 1, 6), publicity_until=date(2099, 1, 1))
    body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}})
    published = {e["node"]["decidedOn"]: e["node"]["published"] for e in body["data"]["subject"]["records"]["edges"]}
    assert published == {"2026-01-06": True, "2020-01-06": False}


async def test_record_details_need_the_details_scope(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], details={"responsible_person": "张某某"})
    query = "query ($ref: SubjectRef!) { subject(ref: $ref) { records { edges { node { title details } } } } }"
    admin = await api.gql(query, {"ref": {"uscc": org["uscc"]}}, as_client="admin")
    assert admin["data"]["subject"]["records"]["edges"][0]["node"]["details"] == {"responsible_person": "张某某"}
    inspection = await api.gql(query, {"ref": {"uscc": org["uscc"]}}, as_client="inspection")
    assert refused_by_schema(inspection, "CreditRecord", "details")
    assert "张某某" not in str(inspection)


async def test_node_resolves_subjects_and_records_by_opaque_id(api: Api) -> None:
    org = await factories.organization(api.engine, "上海节点有限公司")
    record_id = await factories.record(api.engine, org["id"])
    query = """
    query ($id: ID!) { node(id: $id) { id __typename
      ... on CreditRecord { decisionNumber subject { name } }
      ... on Subject { name } } }
    """
    body = await api.gql(query, {"id": global_id("CreditRecord", record_id)})
    node = body["data"]["node"]
    assert node["__typename"] == "CreditRecord"
    assert node["subject"]["name"] == "上海节点有限公司"
    assert node["id"] == global_id("CreditRecord", record_id)
    assert str(record_id) != node["id"]
    body = await api.gql(query, {"id": global_id("Subject", org["id"])})
    assert body["data"]["node"] == {
        "id": global_id("Subject", org["id"]),
        "__typename": "Subject",
        "name": "上海节点有限公司",
    }
    assert (await api.gql(query, {"id": global_id("CreditRecord", 10**9)})) == {"data": {"node": None}}
    body = await api.gql(query, {"id": "%%%"})
    assert error_codes(body) == [("BAD_USER_INPUT", "id")]


async def test_record_node_needs_record_read(api: Api) -> None:
    org = await factories.organization(api.engine)
    record_id = await factories.record(api.engine, org["id"])
    body = await api.gql(
        "query ($id: ID!) { node(id: $id) { id } }",
        {"id": global_id("CreditRecord", record_id)},
        as_client="procurement",
    )
    assert body["data"]["node"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_catalogue_lists_every_record_type(api: Api) -> None:
    body = await api.gql("{ catalogue { recordTypes } }")
    assert body["data"]["catalogue"]["recordTypes"] == [t.value for t in RecordType]
