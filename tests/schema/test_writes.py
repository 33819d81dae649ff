"""importRecords, upsertSubjects and revokeRecord: all or nothing, idempotent, authorized, recomputed at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from store.db import bureau_today
from store.tables import credit_records, outbox, subjects
from tests import factories
from tests.conftest import Api

IMPORT = """
mutation ($records: [RecordInput!]!) {
  importRecords(records: $records) {
    created unchanged errors { index field message } records { id type status decisionNumber subject { name } }
  }
}
"""
TODAY = bureau_today()


def penalty(uscc: str, number: str = "沪人社监罚〔2026〕1号", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "subject": {"uscc": uscc},
        "subjectName": "上海导入测试有限公司",
        "type": "ADMINISTRATIVE_PENALTY",
        "severity": "GENERAL",
        "title": "一般程序行政处罚：未按时足额支付劳动报酬",
        "decisionNumber": number,
        "sourceUnit": "上海市人力资源和社会保障局执法总队",
        "legalBasis": "《劳动保障监察条例》第二十六条",
        "decidedOn": (TODAY - timedelta(days=30)).isoformat(),
        "publicityUntil": (TODAY - timedelta(days=30) + timedelta(days=200)).isoformat(),
        "details": {"amount_yuan": 30000},
    }
    row.update(overrides)
    return row


async def count(api: Api, table: sa.Table) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_import_creates_subject_and_record_and_resend_is_idempotent(api: Api) -> None:
    uscc = factories.new_uscc()
    body = await api.gql(IMPORT, {"records": [penalty(uscc)]})
    result = body["data"]["importRecords"]
    assert (result["created"], result["unchanged"], result["errors"]) == (1, 0, [])
    assert result["records"][0]["subject"]["name"] == "上海导入测试有限公司"
    again = (await api.gql(IMPORT, {"records": [penalty(uscc)]}))["data"]["importRecords"]
    assert (again["created"], again["unchanged"]) == (0, 1)
    assert again["records"][0]["id"] == result["records"][0]["id"]
    assert await count(api, credit_records) == 1
    assert await count(api, outbox) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "ENHANCING"}, "category"),
        ({"severity": "SERIOUS", "legalBasis": None, "publicityUntil": None}, "legalBasis"),
        ({"decidedOn": (TODAY + timedelta(days=1)).isoformat(), "publicityUntil": None}, "decidedOn"),
        ({"publicityUntil": (TODAY + timedelta(days=800)).isoformat()}, "publicityUntil"),
        ({"subjectName": None}, "subjectName"),
        ({"subject": {"uscc": "913101040000000000"}}, "subject.uscc"),
        ({"subject": {}}, "subject"),
    ],
)
async def test_a_bad_row_rejects_the_whole_batch_naming_index_and_field(
    api: Api, overrides: dict[str, Any], field: str
) -> None:
    good = penalty(factories.new_uscc(), "沪人社监罚〔2026〕10号")
    bad = penalty(factories.new_uscc(), "沪人社监罚〔2026〕11号", **overrides)
    body = await api.gql(IMPORT, {"records": [good, bad]})
    result = body["data"]["importRecords"]
    assert result["created"] == 0 and result["records"] == []
    assert [(e["index"], e["field"]) for e in result["errors"]] == [(1, field)], result["errors"]
    assert await count(api, credit_records) == 0
    assert await count(api, subjects) == 0
    assert await count(api, outbox) == 0


async def test_same_decision_number_with_other_content_is_refused(api: Api) -> None:
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [penalty(uscc)]})
    body = await api.gql(IMPORT, {"records": [penalty(uscc, title="改过的标题")]})
    assert [(e["index"], e["field"]) for e in body["data"]["importRecords"]["errors"]] == [(0, "decisionNumber")]
    assert await count(api, credit_records) == 1


async def test_more_than_1000_rows_is_bad_user_input(api: Api) -> None:
    rows = [penalty(factories.new_uscc(), f"沪人社监罚〔2026〕{i}号") for i in range(1001)]
    body = await api.gql(IMPORT, {"records": rows})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "records"


async def test_import_needs_record_write(api: Api) -> None:
    body = await api.gql(IMPORT, {"records": [penalty(factories.new_uscc())]}, as_client="inspection")
    assert body["errors"][0]["message"] == "The mutation operation is not supported by the schema."
    assert await count(api, credit_records) == 0


async def test_source_unit_writes_only_its_own_unit(api: Api) -> None:
    own = penalty(factories.new_uscc(), "沪人社监罚〔2026〕21号")
    other = penalty(factories.new_uscc(), "沪人社监罚〔2026〕22号", sourceUnit="上海市徐汇区人力资源和社会保障局")
    body = await api.gql(IMPORT, {"records": [own, other]}, as_client="source-unit")
    assert [(e["index"], e["field"]) for e in body["data"]["importRecords"]["errors"]] == [(1, "sourceUnit")]
    body = await api.gql(IMPORT, {"records": [own]}, as_client="source-unit")
    assert body["data"]["importRecords"]["created"] == 1


GRADE = "query ($u: String!, $d: Date) { subject(ref: {uscc: $u}) { grade(asOf: $d) { level rule { article } } } }"


async def test_import_recomputes_the_grade_in_the_same_request_and_revoke_undoes_it(api: Api) -> None:
    uscc = factories.new_uscc()
    body = await api.gql(IMPORT, {"records": [penalty(uscc)]})
    record_id = body["data"]["importRecords"]["records"][0]["id"]
    grade = (await api.gql(GRADE, {"u": uscc}))["data"]["subject"]["grade"]
    assert grade["level"] == "C" and "第十二条" in grade["rule"]["article"]
    revoke = await api.gql(
        'mutation ($id: ID!) { revokeRecord(id: $id, reason: "决定已被撤销") { status published } }', {"id": record_id}
    )
    assert revoke["data"]["revokeRecord"] == {"status": "REVOKED", "published": False}
    assert (await api.gql(GRADE, {"u": uscc}))["data"]["subject"]["grade"]["level"] == "A"
    again = await api.gql('mutation ($id: ID!) { revokeRecord(id: $id, reason: "x") { status } }', {"id": record_id})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    async with api.engine.connect() as conn:
        topics = (await conn.execute(sa.select(outbox.c.topic).order_by(outbox.c.id))).scalars().all()
    assert topics == ["record.created", "record.revoked"]


async def test_legal_representative_chain_restricts_the_organization(api: Api) -> None:
    person = factories.new_id_number()
    org = factories.new_uscc()
    upsert = await api.gql(
        """mutation ($s: [SubjectInput!]!) { upsertSubjects(subjects: $s) { name legalRepresentative { name } } }""",
        {
            "s": [
                {"ref": {"idNumber": person}, "name": "失信人"},
                {"ref": {"uscc": org}, "name": "上海见习基地有限公司", "legalRepresentative": {"idNumber": person}},
            ]
        },
    )
    assert upsert["data"]["upsertSubjects"][1]["legalRepresentative"]["name"] == "失信人"
    defaulter = {
        "subject": {"idNumber": person},
        "type": "JUDGMENT_DEFAULTER",
        "severity": "SERIOUS",
        "title": "失信被执行人",
        "decisionNumber": "（2026）沪0104执100号",
        "sourceUnit": "上海市徐汇区人民法院",
        "legalBasis": "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
        "decidedOn": (TODAY - timedelta(days=10)).isoformat(),
    }
    body = await api.gql(IMPORT, {"records": [defaulter]})
    assert body["data"]["importRecords"]["created"] == 1, body
    query = """query ($u: String!) { subject(ref: {uscc: $u}) {
        restrictions(sector: YOUTH_INTERNSHIP_BASES) { sector legalBasis { article } exception sourceRecord { type } } } }"""
    found = (await api.gql(query, {"u": org}, as_client="admin"))["data"]["subject"]["restrictions"]
    assert [(r["sector"], r["sourceRecord"]["type"]) for r in found] == [
        ("YOUTH_INTERNSHIP_BASES", "JUDGMENT_DEFAULTER")
    ]
    assert "第九条" in found[0]["legalBasis"]["article"]


async def test_upsert_subjects_rejects_an_unknown_representative(api: Api) -> None:
    body = await api.gql(
        """mutation ($s: [SubjectInput!]!) { upsertSubjects(subjects: $s) { name } }""",
        {
            "s": [
                {
                    "ref": {"uscc": factories.new_uscc()},
                    "name": "x",
                    "legalRepresentative": {"idNumber": factories.new_id_number()},
                }
            ]
        },
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "subjects[0].legalRepresentative"
    assert await count(api, subjects) == 0


UPSERT = "mutation ($s: [SubjectInput!]!) { upsertSubjects(subjects: $s) { name legalRepresentative { name } } }"
DEMO_EMPLOYER = "91310117MA12QF388C"
DEMO_DEFAULTER = "310112196608190043"
SUBJECT_NOW = """query ($u: String!) { subject(ref: {uscc: $u}) { name legalRepresentative { name }
    restrictions(sector: YOUTH_INTERNSHIP_BASES) { sector } } }"""


async def test_source_unit_cannot_rename_or_relink_an_existing_subject(demo_api: Api) -> None:
    """policy.md: a source unit writes its own unit's records; it never changes an existing subject."""
    before = (await demo_api.gql(SUBJECT_NOW, {"u": DEMO_EMPLOYER}))["data"]["subject"]
    attack = {
        "s": [
            {
                "ref": {"uscc": DEMO_EMPLOYER},
                "name": "改名有限公司",
                "legalRepresentative": {"idNumber": DEMO_DEFAULTER},
            }
        ]
    }
    body = await demo_api.gql(UPSERT, attack, as_client="source-unit")
    assert body.get("data") is None
    # Not in the source unit's schema at all: neither the mutation nor its input type.
    assert "SubjectInput" in body["errors"][0]["message"]
    after = (await demo_api.gql(SUBJECT_NOW, {"u": DEMO_EMPLOYER}))["data"]["subject"]
    assert after == before
    assert after["restrictions"] == []
    # The administrator still may: the same mutation as admin links the representative.
    body = await demo_api.gql(UPSERT, attack)
    assert body["data"]["upsertSubjects"][0]["name"] == "改名有限公司"


async def test_source_unit_import_never_renames_an_existing_subject(api: Api) -> None:
    uscc = factories.new_uscc()
    await api.gql(UPSERT, {"s": [{"ref": {"uscc": uscc}, "name": "上海原名有限公司"}]})
    row = penalty(uscc, "沪人社监罚〔2026〕31号", subjectName="上海冒名有限公司")
    body = await api.gql(IMPORT, {"records": [row]}, as_client="source-unit")
    assert body["data"]["importRecords"]["created"] == 1, body
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { name } }"
    assert (await api.gql(query, {"u": uscc}))["data"]["subject"]["name"] == "上海原名有限公司"


async def test_source_unit_import_creates_the_subject_of_its_own_new_record(api: Api) -> None:
    uscc = factories.new_uscc()
    body = await api.gql(IMPORT, {"records": [penalty(uscc, "沪人社监罚〔2026〕32号")]}, as_client="source-unit")
    assert body["data"]["importRecords"]["records"][0]["subject"]["name"] == "上海导入测试有限公司"


async def test_source_unit_token_without_its_unit_claim_writes_nothing(api: Api) -> None:
    """A token of the source-unit audience that names no unit (an external issuer's, say) may not write: the
    row rule has no unit to hold its records to."""
    admin_import = await api.gql(IMPORT, {"records": [penalty(factories.new_uscc(), "沪人社监罚〔2026〕33号")]})
    record_id = admin_import["data"]["importRecords"]["records"][0]["id"]
    token = api.signed_token("source-unit", "subject:read record:read record:write")
    revoke = 'mutation ($id: ID!) { revokeRecord(id: $id, reason: "撤销") { status } }'
    body = (await api.post(revoke, {"id": record_id}, token=token)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "names no source unit" in body["errors"][0]["message"]
    body = (
        await api.post(IMPORT, {"records": [penalty(factories.new_uscc(), "沪人社监罚〔2026〕34号")]}, token=token)
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await count(api, credit_records) == 1
    status = "query ($id: ID!) { node(id: $id) { ... on CreditRecord { status } } }"
    assert (await api.gql(status, {"id": record_id}))["data"]["node"]["status"] == "ACTIVE"


TYPED = """query ($u: String!) { subject(ref: {uscc: $u}) {
  grade { level rule { article } }
  restrictions { sector legalBasis { article } }
  records(first: 5) { edges { node { type laborContractAttested harmEliminated published publishedUntil } } } } }"""


async def test_sh_art_5_2_a_penalty_whose_harm_was_eliminated_is_not_published_yet_grades_c(api: Api) -> None:
    uscc = factories.new_uscc()
    row = penalty(uscc, severity="SERIOUS", publicityUntil=None, harmEliminated=True)
    assert (await api.gql(IMPORT, {"records": [row]}))["data"]["importRecords"]["created"] == 1
    subject = (await api.gql(TYPED, {"u": uscc}))["data"]["subject"]
    (node,) = [e["node"] for e in subject["records"]["edges"]]
    assert node == {
        "type": "ADMINISTRATIVE_PENALTY",
        "laborContractAttested": None,
        "harmEliminated": True,
        "published": False,
        "publishedUntil": None,
    }
    assert subject["grade"] == {"level": "C", "rule": {"article": "第十二条第（一）项"}}  # still a penalty
    assert "第八条第（二）项第3目" not in {r["legalBasis"]["article"] for r in subject["restrictions"]}
    # The older form, the key in details, is the same fact; a window for it is refused naming publicityUntil.
    other = factories.new_uscc()
    old_form = penalty(other, details={"harm_eliminated": True})
    body = await api.gql(IMPORT, {"records": [old_form]})
    assert [e["field"] for e in body["data"]["importRecords"]["errors"]] == ["publicityUntil"]


async def test_wg_art_9_2_the_attestation_is_a_typed_field_and_gives_a_plus(api: Api) -> None:
    uscc = factories.new_uscc()
    designation = {
        "subject": {"uscc": uscc},
        "subjectName": "上海和谐劳动关系有限公司",
        "type": "HARMONIOUS_LABOR_RELATIONS",
        "title": "和谐劳动关系达标企业",
        "decisionNumber": "沪人社关〔2026〕和1号",
        "sourceUnit": "上海市人力资源和社会保障局",
        "decidedOn": (TODAY - timedelta(days=30)).isoformat(),
        "laborContractAttested": True,
    }
    assert (await api.gql(IMPORT, {"records": [designation]}))["data"]["importRecords"]["created"] == 1
    subject = (await api.gql(TYPED, {"u": uscc}))["data"]["subject"]
    assert subject["grade"]["level"] == "A_PLUS"
    assert subject["records"]["edges"][0]["node"]["laborContractAttested"] is True
    # Without the attestation the same designation gives no A+ (WG art. 9(2)).
    plain = factories.new_uscc()
    unattested = {**designation, "subject": {"uscc": plain}, "decisionNumber": "沪人社关〔2026〕和2号"}
    del unattested["laborContractAttested"]
    assert (await api.gql(IMPORT, {"records": [unattested]}))["data"]["importRecords"]["created"] == 1
    assert (await api.gql(TYPED, {"u": plain}))["data"]["subject"]["grade"]["level"] == "A"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "FALSE_MATERIALS", "harmEliminated": True}, "harmEliminated"),
        ({"laborContractAttested": True}, "laborContractAttested"),
        ({"harmEliminated": True, "details": {"harm_eliminated": False}}, "harmEliminated"),
    ],
    ids=["harm on another type", "attestation on a penalty", "contradicting details"],
)
async def test_a_typed_fact_out_of_place_rejects_the_batch_naming_it(
    api: Api, overrides: dict[str, Any], field: str
) -> None:
    row = penalty(factories.new_uscc(), publicityUntil=None, **overrides)
    body = await api.gql(IMPORT, {"records": [row]})
    result = body["data"]["importRecords"]
    assert result["created"] == 0 and [e["field"] for e in result["errors"]] == [field], result
