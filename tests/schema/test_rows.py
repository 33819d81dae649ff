"""Row rules (policy.md): an employer sees only its own subject on every path; a portal sees organizations and
published records only (tests/schema/test_portal_publication.py holds that rule case by case); a source unit reads
its own unit's records. Through the real app and real tokens."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from auth.accounts import DEMO_EMPLOYER_PASSWORD
from domain.identifiers import make_id_number
from domain.taxonomy import RecordType
from schema.ids import global_id
from store.db import bureau_today
from store.demo import named_subjects
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import refused_by_schema

OWN = next(s for s in named_subjects() if s.uscc and s.role == "C employer (administrative penalty)")
OTHER = next(s for s in named_subjects() if s.uscc and s.role == "B employer")
TODAY = bureau_today()


async def employer_setup(api: Api) -> dict[str, Any]:
    """Two employers with records, the first with a legal representative."""
    rep = await factories.individual(api.engine, "法定代表人")
    own = await factories.organization(api.engine, OWN.name, uscc=OWN.uscc, legal_representative_id=rep["id"])
    other = await factories.organization(api.engine, OTHER.name, uscc=OTHER.uscc)
    own_record = await factories.record(api.engine, own["id"], decided_on=TODAY - timedelta(days=20))
    other_record = await factories.record(api.engine, other["id"], decided_on=TODAY - timedelta(days=20))
    token = api.app.state.auth_server.issue_employer_token(OWN.uscc)
    return {
        "own": own,
        "other": other,
        "rep": rep,
        "own_record": own_record,
        "other_record": other_record,
        "token": token,
    }


def forbidden(body: dict[str, Any]) -> bool:
    return any(e.get("extensions", {}).get("code") == "FORBIDDEN" for e in body.get("errors", []))


async def test_employer_signs_in_with_authorization_code_and_pkce_and_reads_me(api: Api) -> None:
    setup = await employer_setup(api)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect = "http://127.0.0.1:8000/oauth/callback"
    params = {
        "response_type": "code",
        "client_id": "employer-portal",
        "redirect_uri": redirect,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = await api.client.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    form.update({"username": OWN.uscc, "password": DEMO_EMPLOYER_PASSWORD, "action": "login"})
    answer = await api.client.post("/oauth/authorize", data=form)
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = await api.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "employer-portal",
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    body = await api.gql(
        "{ me { name uscc grade { level } records { totalCount } } }", token=token.json()["access_token"]
    )
    assert body["data"]["me"]["uscc"] == OWN.uscc
    assert body["data"]["me"]["records"]["totalCount"] == 1
    assert setup["own"]["uscc"] == OWN.uscc


async def test_employer_sees_nothing_of_another_subject_on_any_path(api: Api) -> None:
    s = await employer_setup(api)
    token = s["token"]
    other_uscc, other_id = s["other"]["uscc"], global_id("Subject", s["other"]["id"])
    attempts = {
        "subject by uscc": ("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": other_uscc}),
        "subject by id": ("query ($i: ID!) { subject(ref: {id: $i}) { name } }", {"i": other_id}),
        "node subject": ("query ($i: ID!) { node(id: $i) { ... on Subject { name } } }", {"i": other_id}),
        "node record": (
            "query ($i: ID!) { node(id: $i) { ... on CreditRecord { title } } }",
            {"i": global_id("CreditRecord", s["other_record"])},
        ),
        "alias": (
            "query ($u: String!) { mine: me { name } theirs: subject(ref: {uscc: $u}) { name } }",
            {"u": other_uscc},
        ),
        "fragment": (
            "query ($u: String!) { subject(ref: {uscc: $u}) { ...F } } fragment F on Subject { name records { totalCount } }",
            {"u": other_uscc},
        ),
        "legal representative": ("{ me { legalRepresentative { name } } }", {}),
        "screen": (
            "query ($u: String!) { screen(sector: BIDDING, refs: [{uscc: $u}]) { found subject { name } } }",
            {"u": other_uscc},
        ),
        "screen of an unknown subject": (
            "query ($u: String!) { screen(sector: BIDDING, refs: [{uscc: $u}]) { found } }",
            {"u": factories.new_uscc()},
        ),
        "unknown subject by uscc": (
            "query ($u: String!) { subject(ref: {uscc: $u}) { name } }",
            {"u": factories.new_uscc()},
        ),
    }
    # Another subject answers as an unknown one: null where a look-up or reference leads to it, and for screening
    # (an employer screens only itself) the same refusal as for any reference but its own.
    answered_as_unknown = {
        "subject by uscc": {"subject": None},
        "subject by id": {"subject": None},
        "node subject": {"node": None},
        "node record": {"node": None},
        "alias": {"mine": {"name": OWN.name}, "theirs": None},
        "fragment": {"subject": None},
        "legal representative": {"me": {"legalRepresentative": None}},
        "unknown subject by uscc": {"subject": None},
    }
    for label, (query, variables) in attempts.items():
        body = await api.gql(query, variables, token=token)
        text = str(body)
        assert OTHER.name not in text and "法定代表人" not in text, (label, body)
        if label.startswith("screen"):
            assert forbidden(body) and body["data"] is None, (label, body)
        else:
            assert body == {"data": answered_as_unknown[label]}, (label, body)
    # The listing holds the employer's own subject only.
    body = await api.gql("{ subjects(first: 50) { totalCount edges { node { uscc } } } }", token=token)
    assert body["data"]["subjects"]["totalCount"] == 1
    assert [e["node"]["uscc"] for e in body["data"]["subjects"]["edges"]] == [OWN.uscc]
    # Its own record, through node(id:), is visible.
    own = await api.gql(
        "query ($i: ID!) { node(id: $i) { ... on CreditRecord { subject { uscc } } } }",
        {"i": global_id("CreditRecord", s["own_record"])},
        token=token,
    )
    assert own["data"]["node"]["subject"]["uscc"] == OWN.uscc


async def test_employer_token_cannot_write_or_read_pii(api: Api) -> None:
    s = await employer_setup(api)
    body = await api.gql('mutation { revokeRecord(id: "x", reason: "y") { id } }', token=s["token"])
    assert "errors" in body and body.get("data") is None
    body = await api.gql("{ me { idNumber } }", token=s["token"])
    assert refused_by_schema(body, "Subject", "idNumber")


async def test_portal_sees_organizations_and_published_records_only(api: Api) -> None:
    org = await factories.organization(api.engine, "上海公示测试有限公司")
    person = await factories.individual(api.engine, "个人")
    await factories.record(
        api.engine,
        org["id"],
        decided_on=TODAY - timedelta(days=10),
        publicity_until=TODAY + timedelta(days=100),
        decision_number="公示中1号",
    )
    await factories.record(
        api.engine,
        org["id"],
        decided_on=TODAY - timedelta(days=400),
        publicity_until=TODAY - timedelta(days=35),
        decision_number="公示期满2号",
    )
    # WG art. 7: any category is hidden outside its window; an award without one is not published either.
    await factories.record(api.engine, org["id"], RecordType.AWARD, severity=None, decision_number="表彰3号")
    await factories.record(
        api.engine,
        org["id"],
        RecordType.AWARD,
        severity=None,
        decided_on=TODAY - timedelta(days=10),
        publicity_until=TODAY + timedelta(days=100),
        decision_number="表彰公示4号",
    )
    query = """query ($u: String!) { subject(ref: {uscc: $u}) {
        records(includeInactive: true) { totalCount edges { node { decisionNumber published } } } } }"""
    portal = await api.gql(query, {"u": org["uscc"]}, as_client="portal")
    edges = portal["data"]["subject"]["records"]["edges"]
    assert sorted(e["node"]["decisionNumber"] for e in edges) == ["公示中1号", "表彰公示4号"]
    assert all(e["node"]["published"] for e in edges)
    assert portal["data"]["subject"]["records"]["totalCount"] == 2
    admin = await api.gql(query, {"u": org["uscc"]}, as_client="admin")
    assert admin["data"]["subject"]["records"]["totalCount"] == 4
    # Individuals do not exist for a portal, by any path.
    body = await api.gql(
        "query ($n: String!) { subject(ref: {idNumber: $n}) { name } }", {"n": person["id_number"]}, as_client="portal"
    )
    assert body == {"data": {"subject": None}}
    body = await api.gql("{ subjects(first: 50) { totalCount edges { node { kind } } } }", as_client="portal")
    assert {e["node"]["kind"] for e in body["data"]["subjects"]["edges"]} == {"ORGANIZATION"}
    body = await api.gql(
        "query ($i: ID!) { node(id: $i) { id } }", {"i": global_id("Subject", person["id"])}, as_client="portal"
    )
    assert body == {"data": {"node": None}}


async def test_source_unit_reads_only_its_own_units_records(api: Api) -> None:
    org = await factories.organization(api.engine)
    await factories.record(api.engine, org["id"], decision_number="本单位1号")
    await factories.record(
        api.engine, org["id"], decision_number="他单位2号", source_unit="上海市徐汇区人力资源和社会保障局"
    )
    body = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { records { totalCount edges { node { decisionNumber } } } } }",
        {"u": org["uscc"]},
        as_client="source-unit",
    )
    assert [e["node"]["decisionNumber"] for e in body["data"]["subject"]["records"]["edges"]] == ["本单位1号"]
    assert body["data"]["subject"]["records"]["totalCount"] == 1


DEMO_INDIVIDUAL = next(s for s in named_subjects() if s.role == "judgment defaulter (individual)")


def unknown_id_number() -> str:
    """A valid ID number that no demo or test subject has (birth date and sequence outside what they use)."""
    return make_id_number("310104", date(1931, 2, 3), 997)


async def test_a_subject_the_caller_may_not_see_answers_as_an_unknown_one(demo_api: Api) -> None:
    api = demo_api
    assert DEMO_INDIVIDUAL.id_number == "310112196608190043"
    query = "query ($n: String!) { subject(ref: {idNumber: $n}) { id name kind } }"
    hidden = (await api.post(query, {"n": DEMO_INDIVIDUAL.id_number}, as_client="portal")).json()
    unknown = (await api.post(query, {"n": unknown_id_number()}, as_client="portal")).json()
    assert hidden == unknown == {"data": {"subject": None}}
    # The individual exists: the admin finds it.
    found = await api.gql(
        "query ($n: String!) { subject(ref: {idNumber: $n}) { id } }", {"n": DEMO_INDIVIDUAL.id_number}
    )
    individual_id = found["data"]["subject"]["id"]
    query = "query ($i: ID!) { node(id: $i) { id ... on Subject { name } } }"
    hidden = (await api.post(query, {"i": individual_id}, as_client="portal")).json()
    unknown = (await api.post(query, {"i": global_id("Subject", 987654321)}, as_client="portal")).json()
    assert hidden == unknown == {"data": {"node": None}}


async def test_the_audit_log_records_what_was_answered_as_unknown(api: Api) -> None:
    person = await factories.individual(api.engine, "个人")
    await api.gql(
        "query ($n: String!) { subject(ref: {idNumber: $n}) { name } }", {"n": person["id_number"]}, as_client="portal"
    )
    body = await api.gql(
        "{ auditLog(first: 1) { edges { node { audience fieldsRefused subjectIds } } } }", as_client="auditor"
    )
    [entry] = [e["node"] for e in body["data"]["auditLog"]["edges"]]
    assert entry == {"audience": "portal", "fieldsRefused": ["subject"], "subjectIds": []}


async def test_a_hidden_legal_representative_answers_null(api: Api) -> None:
    rep = await factories.individual(api.engine, "法定代表人")
    org = await factories.organization(api.engine, legal_representative_id=rep["id"])
    body = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { uscc legalRepresentative { name } } }",
        {"u": org["uscc"]},
        as_client="portal",
    )
    assert body == {"data": {"subject": {"uscc": org["uscc"], "legalRepresentative": None}}}


async def test_an_employer_screening_another_subject_learns_nothing_of_its_existence(demo_api: Api) -> None:
    token = demo_api.app.state.auth_server.issue_employer_token(OWN.uscc)
    query = "query ($u: String!) { screen(sector: BIDDING, refs: [{uscc: $u}]) { found subject { name } } }"
    other = (await demo_api.post(query, {"u": OTHER.uscc}, token=token)).json()
    unknown = (await demo_api.post(query, {"u": factories.new_uscc()}, token=token)).json()
    assert other == unknown
    assert forbidden(other) and other["data"] is None
    mine = await demo_api.gql(query, {"u": OWN.uscc}, token=token)
    assert mine["data"]["screen"] == [{"found": True, "subject": {"name": OWN.name}}]
