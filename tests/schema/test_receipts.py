"""Signed screening receipts through the API: the results of screen, a JWS that verifies with the served JWKS and
with no other key, the verdicts and rules it signs, its id in the audit entry, and screen's own refusals."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from auth.keys import SigningKeys
from domain.identifiers import mask_id_number
from domain.model import WAGE_REGULATION
from schema.ids import global_id
from services import receipts
from store import audit
from tests import factories
from tests.conftest import Api, leaked_id_numbers
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_rows import OWN
from tests.schema.test_subjects import refused_by_schema
from tests.schema.test_writes import IMPORT, TODAY

RESULTS = "ref found restricted subject { id } restrictions { sector measure since until legalBasis { document article } disputed }"
SCREEN = f"""
query ($sector: Sector!, $refs: [SubjectRef!]!, $d: Date) {{ screen(sector: $sector, refs: $refs, asOf: $d) {{ {RESULTS} }} }}
"""
RECEIPT = f"""
query Receipt($sector: Sector!, $refs: [SubjectRef!]!, $d: Date) {{
  screeningReceipt(sector: $sector, refs: $refs, asOf: $d) {{ receiptId jws results {{ {RESULTS} }} }}
}}
"""


async def bidders(api: Api) -> dict[str, Any]:
    """A blacklisted bidder, a clean one, an individual (by ID number) and an unknown code."""
    listed = factories.new_uscc()
    decided = TODAY - timedelta(days=20)
    created = await api.gql(IMPORT, {"records": [blacklisting(listed, decided)]})
    assert created["data"]["importRecords"]["created"] == 1
    clean = await factories.organization(api.engine, "上海守信有限公司")
    person = await factories.individual(api.engine, "李四")
    refs = [
        {"uscc": listed},
        {"uscc": clean["uscc"]},
        {"idNumber": person["id_number"]},
        {"uscc": factories.new_uscc()},
    ]
    return {"refs": refs, "listed": listed, "decided": decided, "person": person}


async def jwks(api: Api) -> dict[str, Any]:
    response = await api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


async def test_a_receipt_carries_the_results_screen_gives(api: Api) -> None:
    b = await bidders(api)
    for day in (None, (b["decided"] - timedelta(days=1)).isoformat()):
        variables = {"sector": "GOVERNMENT_PROCUREMENT", "refs": b["refs"], "d": day}
        screened = await api.gql(SCREEN, variables, as_client="procurement")
        receipt = await api.gql(RECEIPT, variables, as_client="procurement")
        assert "errors" not in receipt, receipt
        assert receipt["data"]["screeningReceipt"]["results"] == screened["data"]["screen"]
    assert [r["restricted"] for r in screened["data"]["screen"]] == [False, False, False, False]


async def test_the_receipt_verifies_with_the_served_jwks_and_signs_the_verdicts(api: Api) -> None:
    b = await bidders(api)
    response = await api.post(RECEIPT, {"sector": "GOVERNMENT_PROCUREMENT", "refs": b["refs"]}, as_client="procurement")
    got = response.json()["data"]["screeningReceipt"]
    token = got["jws"]
    # Any JOSE library checks it with the published key set alone.
    signed = jws.deserialize_compact(token, KeySet.import_key_set(await jwks(api)), algorithms=["ES256"])  # type: ignore[arg-type]
    header = signed.headers()
    assert (header["alg"], header["kid"], header["typ"]) == (
        "ES256",
        api.app.state.signing_keys.kid,
        receipts.RECEIPT_TYPE,
    )
    payload = orjson.loads(signed.payload)
    assert payload["jti"] == got["receiptId"]
    assert payload["iss"] == api.app.state.settings.issuer
    assert payload["request_id"] == response.headers["x-request-id"]
    assert (payload["sector"], payload["as_of"], payload["audience"]) == (
        "GOVERNMENT_PROCUREMENT",
        TODAY.isoformat(),
        "procurement",
    )
    assert [(r["ref"], r["found"], r["restricted"]) for r in payload["results"]] == [
        (r["ref"], r["found"], r["restricted"]) for r in got["results"]
    ]
    assert [r["subject"] for r in payload["results"]] == [(r["subject"] or {}).get("id") for r in got["results"]]
    listed = payload["results"][0]
    assert listed["ref"] == b["listed"] and listed["restricted"]
    [restriction] = listed["restrictions"]
    assert restriction["since"] == b["decided"].isoformat()
    assert restriction["legal_basis"] == {"document": WAGE_REGULATION, "article": "第四十八条"}
    # The ID number stays masked, as screen echoes it to a caller without subject:pii.
    assert payload["results"][2]["ref"] == mask_id_number(b["person"]["id_number"])
    assert not leaked_id_numbers(signed.payload.decode())
    assert payload["rules"]["articles"] == [
        {"document": WAGE_REGULATION, "article": "第四十八条", "short": "SC 724 art. 48"}
    ]
    assert [d["document"] for d in payload["rules"]["documents"]] == [WAGE_REGULATION]
    opened = receipts.open_receipt(token, await jwks(api))
    assert (opened.receipt_id, opened.sector, opened.as_of) == (got["receiptId"], "GOVERNMENT_PROCUREMENT", TODAY)


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    body = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["results"][0]["restricted"] = False
    body["results"][0]["restrictions"] = []
    forged = base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def test_a_tampered_receipt_or_a_foreign_key_fails(api: Api) -> None:
    b = await bidders(api)
    body = await api.gql(RECEIPT, {"sector": "BIDDING", "refs": b["refs"][:1]}, as_client="procurement")
    token = body["data"]["screeningReceipt"]["jws"]
    served = await jwks(api)
    assert receipts.open_receipt(token, served).results[0]["restricted"] is True
    with pytest.raises(receipts.InvalidReceipt):
        receipts.open_receipt(_tampered(token), served)
    with pytest.raises(receipts.InvalidReceipt):
        receipts.open_receipt(token, SigningKeys.generate().public_jwks())
    # Signed by the right key, but not a receipt: an audit checkpoint is never taken for one.
    checkpoint = audit.sign_checkpoint(audit.Head(1, bytes(32)), api.app.state.signing_keys, issuer="x").jws
    with pytest.raises(receipts.InvalidReceipt, match="not a screening receipt"):
        receipts.open_receipt(checkpoint, served)


async def test_the_audit_entry_of_the_request_names_the_receipt(api: Api) -> None:
    b = await bidders(api)
    body = await api.gql(
        RECEIPT, {"sector": "BIDDING", "refs": b["refs"]}, as_client="procurement", headers={"X-Purpose": "bid-7"}
    )
    receipt_id = body["data"]["screeningReceipt"]["receiptId"]
    log = await api.gql(
        "{ auditLog(first: 5) { edges { node { operation purpose receiptId fieldsReturned } } } }", as_client="auditor"
    )
    entries = [e["node"] for e in log["data"]["auditLog"]["edges"]]
    [entry] = [e for e in entries if e["operation"] == "Receipt"]
    assert (entry["receiptId"], entry["purpose"]) == (receipt_id, "bid-7")
    assert "ScreeningReceipt.jws" in entry["fieldsReturned"]
    assert all(e["receiptId"] is None for e in entries if e["operation"] != "Receipt")


async def test_an_audience_without_screen_access_gets_screens_refusal(api: Api) -> None:
    org = await factories.organization(api.engine)
    refs = [{"uscc": org["uscc"]}]
    for query, field in ((SCREEN, "screen"), (RECEIPT, "screeningReceipt")):
        body = await api.gql(query, {"sector": "BIDDING", "refs": refs}, as_client="auditor")
        assert refused_by_schema(body, "Query", field)
        assert refused_by_schema(
            await api.gql(query, {"sector": "BIDDING", "refs": refs}, as_client="portal"), "Query", field
        )
    screen, receipt = [
        await api.gql(q, {"sector": "GOVERNMENT_PROCUREMENT", "refs": refs}, as_client="finance")
        for q in (SCREEN, RECEIPT)
    ]
    assert screen["errors"][0]["extensions"]["code"] == receipt["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert screen["errors"][0]["message"] == receipt["errors"][0]["message"]
    assert receipt["data"] is None


async def test_an_employer_gets_a_receipt_of_itself_only(api: Api) -> None:
    own = await factories.organization(api.engine, OWN.name, uscc=OWN.uscc)
    other = await factories.organization(api.engine)
    token = api.app.state.auth_server.issue_employer_token(OWN.uscc)
    mine = await api.gql(RECEIPT, {"sector": "BIDDING", "refs": [{"uscc": own["uscc"]}]}, token=token)
    assert mine["data"]["screeningReceipt"]["results"][0]["found"] is True
    for refs in (
        [{"uscc": other["uscc"]}],
        [{"uscc": factories.new_uscc()}],
        [{"id": global_id("Subject", other["id"])}],
    ):
        screen, receipt = [
            await api.gql(q, {"sector": "BIDDING", "refs": refs}, token=token) for q in (SCREEN, RECEIPT)
        ]
        assert screen["errors"][0]["message"] == receipt["errors"][0]["message"]
        assert receipt["errors"][0]["extensions"]["code"] == "FORBIDDEN" and receipt["data"] is None


async def test_a_receipt_keeps_screens_limits_and_one_receipt_a_request(api: Api) -> None:
    too_many = [{"uscc": factories.new_uscc()}] * 1001
    body = await api.gql(RECEIPT, {"sector": "BIDDING", "refs": too_many}, as_client="procurement")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "refs"}
    bad = [{"uscc": factories.new_uscc()[:-1] + "?"}]
    body = await api.gql(RECEIPT, {"sector": "BIDDING", "refs": bad}, as_client="procurement")
    assert body["errors"][0]["extensions"]["field"] == "refs[0].uscc"
    refs = [{"uscc": factories.new_uscc()}]
    twice = """query ($refs: [SubjectRef!]!) {
      a: screeningReceipt(sector: BIDDING, refs: $refs) { receiptId }
      b: screeningReceipt(sector: BIDDING, refs: $refs) { receiptId }
    }"""
    body = await api.gql(twice, {"refs": refs}, as_client="procurement")
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "screeningReceipt"}
