"""Credit repair (SH art. 11, WG art. 21, NDRC 2025/36; early removal from the wage-arrears list, MOHRSS 45) through
the real app and real tokens: refusals name the unmet condition and the earliest day it can be met, an approval ends
the record's effect at once and recomputes the grade in the same transaction, with the outbox event. A client of the
public contract sends only ``recordId`` and ``statement``: the statement is its signed credit commitment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from domain.model import Record
from domain.periods import add_months
from domain.publicity import EARLY_REMOVAL_MONTHS, minimum_publicity_end
from domain.taxonomy import RecordStatus, RecordType, Severity
from store.db import bureau_today
from store.tables import outbox, repairs
from tests import factories
from tests.conftest import Api
from tests.schema.test_objections import OWN, SUBMIT, code, import_one, setup_employers, topics

TODAY = bureau_today()

APPLY = """
mutation ($r: ID!, $s: String!, $c: Boolean) {
  applyRepair(recordId: $r, statement: $s, commitment: $c) { id status statement submittedAt decidedAt decision
    record { id status } }
}
"""
# applyRepair exactly as the public contract has it: no commitment argument.
CONTRACT_APPLY = """
mutation ($r: ID!, $s: String!) {
  applyRepair(recordId: $r, statement: $s) { id status statement record { id status } }
}
"""
DECIDE = """
mutation ($id: ID!, $approve: Boolean!, $d: String!) {
  decideRepair(id: $id, approve: $approve, decision: $d) { id status decidedAt decision record { id status } }
}
"""
STANDING = """
query ($u: String!) { subject(ref: {uscc: $u}) {
  grade { level } restrictions { sector until } repairs { id status record { id } }
} }
"""
REVOKE = 'mutation ($id: ID!) { revokeRecord(id: $id, reason: "决定已被撤销") { status } }'
STATEMENT = "已纠正失信行为、履行法定义务，并公开作出信用承诺。"


def fulfilled(decided: date, **overrides: Any) -> dict[str, Any]:
    """A GENERAL penalty decided on ``decided``, corrected and fulfilled (published for 6 months)."""
    return {
        "decidedOn": decided.isoformat(),
        "publicityUntil": add_months(decided, 6).isoformat(),
        "correctedOn": (decided + timedelta(days=5)).isoformat(),
        "penaltyFulfilled": True,
        **overrides,
    }


def decided_for_earliest(earliest: date) -> date:
    """A decision date whose GENERAL minimum publicity window (NDRC 2025/36: 3 months) makes ``earliest`` the first
    day a repair can be approved, by the rule ``repair_refusal`` applies."""
    for back in range(80, 100):
        decided = earliest - timedelta(days=back)
        record = Record(0, 0, RecordType.ADMINISTRATIVE_PENALTY, Severity.GENERAL, RecordStatus.ACTIVE, decided)
        end = minimum_publicity_end(record)
        if end is not None and end + timedelta(days=1) == earliest:
            return decided
    raise AssertionError(f"no decision date gives {earliest}")


def refusal(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    ext = body["errors"][0]["extensions"]
    return ext["code"], ext.get("condition"), ext.get("earliest")


async def count_repairs(api: Api) -> int:
    async with api.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(repairs))).scalar_one())


@pytest.mark.parametrize(
    ("today_is", "accepted"),
    [("the day before the earliest date", False), ("the earliest date", True), ("the day after it", True)],
)
async def test_ndrc_2025_36_no_repair_before_the_minimum_publicity_window_has_passed(
    api: Api, today_is: str, accepted: bool
) -> None:
    earliest = {
        "the day before the earliest date": TODAY + timedelta(days=1),
        "the earliest date": TODAY,
        "the day after it": TODAY - timedelta(days=1),
    }[today_is]
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕201号", **fulfilled(decided_for_earliest(earliest)))
    body = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    if accepted:
        assert body["data"]["applyRepair"]["status"] == "SUBMITTED", body
        assert body["data"]["applyRepair"]["record"] == {"id": record_id, "status": "ACTIVE"}
    else:
        assert refusal(body) == ("BAD_USER_INPUT", "MINIMUM_PUBLICITY", earliest.isoformat())
        assert earliest.isoformat() in body["errors"][0]["message"]
        assert await count_repairs(api) == 0


async def test_sh_art_11_a_penalty_not_fulfilled_is_not_repaired(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    decided = TODAY - timedelta(days=200)
    for number, fulfilment in (("沪人社监罚〔2026〕211号", False), ("沪人社监罚〔2026〕212号", None)):
        record_id = await import_one(api, OWN.uscc, number, **fulfilled(decided, penaltyFulfilled=fulfilment))
        body = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
        assert refusal(body) == ("BAD_USER_INPUT", "PENALTY_NOT_FULFILLED", None)
    uncorrected = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕213号", **fulfilled(decided, correctedOn=None))
    body = await api.gql(APPLY, {"r": uncorrected, "s": STATEMENT, "c": True}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "NOT_CORRECTED", None)
    assert await count_repairs(api) == 0


async def test_ndrc_2025_36_a_statement_that_makes_no_commitment_is_refused_naming_commitment(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕221号", **fulfilled(TODAY - timedelta(days=200)))
    body = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": False}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "COMMITMENT_MISSING", None)
    error = body["errors"][0]
    assert error["extensions"]["field"] == "commitment"
    assert error["extensions"]["article"] == "SH art. 11, NDRC 2025/36"
    assert "credit commitment" in error["message"] and "SH art. 11, NDRC 2025/36" in error["message"]
    assert await count_repairs(api) == 0


async def test_sh_art_11_a_contract_client_repairs_with_its_statement_as_the_commitment(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕222号", **fulfilled(TODAY - timedelta(days=200)))
    body = await api.gql(CONTRACT_APPLY, {"r": record_id, "s": f"  {STATEMENT}\n"}, token=setup["token"])
    application = body["data"]["applyRepair"]
    assert (application["status"], application["statement"]) == ("SUBMITTED", STATEMENT)
    assert application["record"] == {"id": record_id, "status": "ACTIVE"}
    decided = await api.gql(DECIDE, {"id": application["id"], "approve": True, "d": "符合修复条件，准予修复"})
    assert decided["data"]["decideRepair"]["record"] == {"id": record_id, "status": "REPAIRED"}
    assert (await topics(api))[-1] == "record.repaired"


async def test_sh_art_11_a_contract_client_still_meets_every_other_condition(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    earliest = TODAY + timedelta(days=1)
    early = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕223号", **fulfilled(decided_for_earliest(earliest)))
    body = await api.gql(CONTRACT_APPLY, {"r": early, "s": STATEMENT}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "MINIMUM_PUBLICITY", earliest.isoformat())
    decided = TODAY - timedelta(days=200)
    unpaid = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕224号", **fulfilled(decided, penaltyFulfilled=None))
    body = await api.gql(CONTRACT_APPLY, {"r": unpaid, "s": STATEMENT}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "PENALTY_NOT_FULFILLED", None)
    uncorrected = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕225号", **fulfilled(decided, correctedOn=None))
    body = await api.gql(CONTRACT_APPLY, {"r": uncorrected, "s": STATEMENT}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "NOT_CORRECTED", None)
    under = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕226号", **fulfilled(decided))
    await api.gql(SUBMIT, {"r": under, "reason": "金额有误"}, token=setup["token"])
    body = await api.gql(CONTRACT_APPLY, {"r": under, "s": STATEMENT}, token=setup["token"])
    assert code(body) == "CONFLICT"
    assert await count_repairs(api) == 0


@pytest.mark.parametrize("statement", ["", "  \n\t "])
async def test_sh_art_11_a_blank_statement_is_a_missing_commitment_naming_statement(api: Api, statement: str) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕227号", **fulfilled(TODAY - timedelta(days=200)))
    body = await api.gql(CONTRACT_APPLY, {"r": record_id, "s": statement}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "COMMITMENT_MISSING", None)
    error = body["errors"][0]
    assert error["extensions"]["field"] == "statement"
    assert error["extensions"]["article"] == "SH art. 11, NDRC 2025/36"
    assert "credit commitment" in error["message"] and "SH art. 11, NDRC 2025/36" in error["message"]
    assert body["data"] is None
    assert await count_repairs(api) == 0


async def test_ndrc_2025_36_approved_repair_ends_restrictions_at_once_and_recomputes_the_grade(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    # Only the record to repair drives the standing: the penalty setup imported is revoked.
    revoked = await api.gql(REVOKE, {"id": setup["own_record"]})
    assert revoked["data"]["revokeRecord"]["status"] == "REVOKED"
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕231号", **fulfilled(TODAY - timedelta(days=200)))
    before = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert before["grade"]["level"] == "C" and before["restrictions"]

    applied = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    application = applied["data"]["applyRepair"]
    assert (application["status"], application["statement"], application["decidedAt"]) == ("SUBMITTED", STATEMENT, None)
    # Filing changes nothing yet; only the decision does.
    assert (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]["grade"]["level"] == "C"

    body = await api.gql(DECIDE, {"id": application["id"], "approve": True, "d": "符合修复条件，准予修复"})
    decided = body["data"]["decideRepair"]
    assert decided["status"] == "APPROVED" and decided["decision"] == "符合修复条件，准予修复"
    assert decided["decidedAt"] is not None
    assert decided["record"] == {"id": record_id, "status": "REPAIRED"}
    after = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert after["restrictions"] == []  # in force today: none; they ended yesterday
    assert after["grade"]["level"] == "A"
    assert after["repairs"] == [{"id": application["id"], "status": "APPROVED", "record": {"id": record_id}}]
    assert (await topics(api))[-1] == "record.repaired"
    async with api.engine.connect() as conn:
        payload = (
            await conn.execute(sa.select(outbox.c.payload).where(outbox.c.topic == "record.repaired"))
        ).scalar_one()
    assert payload["status"] == "REPAIRED" and payload["repaired_on"] == TODAY.isoformat()
    # The employer sees the result too; a decided application is not decided again.
    mine = await api.gql("{ me { repairs { status } } }", token=setup["token"])
    assert mine["data"]["me"]["repairs"] == [{"status": "APPROVED"}]
    again = await api.gql(DECIDE, {"id": application["id"], "approve": False, "d": "x"})
    assert code(again) == "CONFLICT"
    # A repaired record is not repaired again.
    body = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    assert refusal(body) == ("BAD_USER_INPUT", "NOT_REPAIRABLE", None)


async def test_sh_art_11_a_rejected_repair_keeps_the_record(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕241号", **fulfilled(TODAY - timedelta(days=200)))
    applied = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    body = await api.gql(DECIDE, {"id": applied["data"]["applyRepair"]["id"], "approve": False, "d": "材料不全"})
    decided = body["data"]["decideRepair"]
    assert decided["status"] == "REJECTED" and decided["record"] == {"id": record_id, "status": "ACTIVE"}
    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert standing["grade"]["level"] == "C" and standing["restrictions"]
    assert "record.repaired" not in await topics(api)


async def test_mohrss_45_early_removal_six_months_after_the_wages_are_paid(api: Api) -> None:
    listed = TODAY - timedelta(days=300)

    def blacklist(paid: date | None) -> dict[str, Any]:
        return {
            "type": "WAGE_ARREARS_BLACKLIST",
            "severity": "SERIOUS",
            "title": "列入拖欠农民工工资失信联合惩戒对象名单",
            "legalBasis": "《保障农民工工资支付条例》第四十八条",
            "decidedOn": listed.isoformat(),
            "publicityUntil": add_months(listed, 36).isoformat(),
            "correctedOn": paid.isoformat() if paid else None,
            "penaltyFulfilled": None,
        }

    recent, early, unpaid = factories.new_uscc(), factories.new_uscc(), factories.new_uscc()
    paid_recently = TODAY - timedelta(days=100)
    refused_id = await import_one(api, recent, "沪人社欠薪〔2026〕1号", **blacklist(paid_recently))
    allowed_id = await import_one(api, early, "沪人社欠薪〔2026〕2号", **blacklist(TODAY - timedelta(days=200)))
    unpaid_id = await import_one(api, unpaid, "沪人社欠薪〔2026〕3号", **blacklist(None))

    body = await api.gql(APPLY, {"r": refused_id, "s": STATEMENT, "c": True})
    earliest = add_months(paid_recently, EARLY_REMOVAL_MONTHS) + timedelta(days=1)
    assert refusal(body) == ("BAD_USER_INPUT", "SIX_MONTHS", earliest.isoformat())
    body = await api.gql(APPLY, {"r": unpaid_id, "s": STATEMENT, "c": True})
    assert refusal(body) == ("BAD_USER_INPUT", "WAGES_NOT_PAID", None)
    body = await api.gql(APPLY, {"r": allowed_id, "s": STATEMENT, "c": False})
    assert refusal(body) == ("BAD_USER_INPUT", "COMMITMENT_MISSING", None)  # the written commitment
    assert body["errors"][0]["extensions"]["article"] == "MOHRSS 45"
    body = await api.gql(CONTRACT_APPLY, {"r": allowed_id, "s": " "})
    assert refusal(body) == ("BAD_USER_INPUT", "COMMITMENT_MISSING", None)
    assert (body["errors"][0]["extensions"]["field"], body["errors"][0]["extensions"]["article"]) == (
        "statement",
        "MOHRSS 45",
    )

    before = (await api.gql(STANDING, {"u": early}))["data"]["subject"]
    assert before["grade"]["level"] == "C"
    assert {"GOVERNMENT_PROCUREMENT", "BIDDING", "FINANCING_LOANS"} <= {r["sector"] for r in before["restrictions"]}
    # The statement is the written commitment: a client of the contract completes the early removal.
    applied = await api.gql(CONTRACT_APPLY, {"r": allowed_id, "s": STATEMENT})
    body = await api.gql(DECIDE, {"id": applied["data"]["applyRepair"]["id"], "approve": True, "d": "准予提前移出"})
    assert body["data"]["decideRepair"]["record"] == {"id": allowed_id, "status": "REPAIRED"}
    after = (await api.gql(STANDING, {"u": early}))["data"]["subject"]
    assert after["restrictions"] == [] and after["grade"]["level"] != "C"
    still = (await api.gql(STANDING, {"u": recent}))["data"]["subject"]
    assert still["grade"]["level"] == "C" and still["restrictions"]


async def test_an_employer_cannot_apply_for_another_employers_record(api: Api) -> None:
    setup = await setup_employers(api)
    body = await api.gql(APPLY, {"r": setup["other_record"], "s": STATEMENT, "c": True}, token=setup["token"])
    assert code(body) == "FORBIDDEN" and body["data"] is None
    assert await count_repairs(api) == 0


async def test_one_open_application_per_record_and_none_while_an_objection_is_handled(api: Api) -> None:
    setup = await setup_employers(api)
    assert OWN.uscc
    record_id = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕251号", **fulfilled(TODAY - timedelta(days=200)))
    first = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    assert first["data"]["applyRepair"]["status"] == "SUBMITTED"
    second = await api.gql(APPLY, {"r": record_id, "s": STATEMENT, "c": True}, token=setup["token"])
    assert code(second) == "CONFLICT"
    # An objection may still be filed; the pending repair then waits for its decision.
    await api.gql(SUBMIT, {"r": record_id, "reason": "金额有误"}, token=setup["token"])
    blocked = await api.gql(DECIDE, {"id": first["data"]["applyRepair"]["id"], "approve": True, "d": "准予"})
    assert code(blocked) == "CONFLICT"
    under = await import_one(api, OWN.uscc, "沪人社监罚〔2026〕252号", **fulfilled(TODAY - timedelta(days=200)))
    await api.gql(SUBMIT, {"r": under, "reason": "金额有误"}, token=setup["token"])
    body = await api.gql(APPLY, {"r": under, "s": STATEMENT, "c": True}, token=setup["token"])
    assert code(body) == "CONFLICT"
    assert await count_repairs(api) == 1


async def test_repair_scopes_follow_the_policy(api: Api) -> None:
    setup = await setup_employers(api)
    employer_decides = await api.gql(
        'mutation { decideRepair(id: "x", approve: true, decision: "x") { id } }', token=setup["token"]
    )
    assert "Cannot query field 'decideRepair'" in employer_decides["errors"][0]["message"]
    for client in ("inspection", "procurement"):
        body = await api.gql(APPLY, {"r": setup["own_record"], "s": STATEMENT, "c": True}, as_client=client)
        assert body["errors"][0]["message"] == "The mutation operation is not supported by the schema."
    procurement = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { repairs { id } } }", {"u": OWN.uscc}, as_client="procurement"
    )
    assert procurement["errors"][0]["message"] == "Cannot query field 'repairs' on type 'Subject'."
    body = await api.gql(APPLY, {"r": setup["own_record"], "s": "  ", "c": True}, token=setup["token"])
    assert code(body) == "BAD_USER_INPUT" and body["errors"][0]["extensions"]["field"] == "statement"
