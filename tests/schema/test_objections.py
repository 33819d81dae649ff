"""Objections (SH art. 10, WG art. 19-20) through the real app and real tokens: an employer objects to its own
records only, the record is UNDER_OBJECTION and everything it drives says disputed, deadlines count working days
on the official calendar, a decision corrects (a new version, or a revocation) or rejects in one transaction with
the recomputation and the outbox, and overdue objections are listed for the bureau and inspection."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from domain.workdays import WorkCalendar
from schema.ids import global_id
from store.db import bureau_today
from store.demo import named_subjects
from store.tables import audit_log, credit_records, objections, outbox
from tests import factories
from tests.conftest import Api, count_statements
from tests.schema.test_writes import IMPORT, penalty

OWN = next(s for s in named_subjects() if s.uscc and s.role == "C employer (administrative penalty)")
OTHER = next(s for s in named_subjects() if s.uscc and s.role == "B employer")
TODAY = bureau_today()
CAL = WorkCalendar()

SUBMIT = """
mutation ($r: ID!, $reason: String!, $ext: Boolean, $on: Date) {
  submitObjection(recordId: $r, reason: $reason, needsExternalVerification: $ext, receivedOn: $on) {
    id status reason needsExternalVerification dueOn decidedAt decision pushDueOn pushedAt deadlinesProvisional
    submittedAt record { id status version }
  }
}
"""
DECIDE = """
mutation ($o: ID!, $correct: Boolean!, $decision: String!, $c: RecordCorrectionInput) {
  decideObjection(id: $o, correct: $correct, decision: $decision, correction: $c) {
    id status decision decidedAt pushDueOn deadlinesProvisional
    record { id status version }
    correctedRecord { id status version title severity }
  }
}
"""
STANDING = """
query ($u: String!) { subject(ref: {uscc: $u}) {
  grade { level disputed }
  restrictions { sector disputed sourceRecord { id } }
  records(includeInactive: true) { edges { node { id status version } } }
} }
"""
OVERDUE = "query ($d: Date) { overdueObjections(asOf: $d) { id status dueOn pushDueOn pushedAt record { id } } }"


async def setup_employers(api: Api) -> dict[str, Any]:
    """The two demo employers, a penalty for each imported by the administrator, and the first one's token."""
    own = await factories.organization(api.engine, OWN.name, uscc=OWN.uscc)
    other = await factories.organization(api.engine, OTHER.name, uscc=OTHER.uscc)
    assert OWN.uscc and OTHER.uscc
    body = await api.gql(
        IMPORT,
        {"records": [penalty(OWN.uscc, "沪人社监罚〔2026〕101号"), penalty(OTHER.uscc, "沪人社监罚〔2026〕102号")]},
    )
    own_record, other_record = (r["id"] for r in body["data"]["importRecords"]["records"])
    return {
        "own": own,
        "other": other,
        "own_record": own_record,
        "other_record": other_record,
        "token": api.app.state.auth_server.issue_employer_token(OWN.uscc),
    }


async def import_one(api: Api, uscc: str, number: str, **overrides: Any) -> str:
    body = await api.gql(IMPORT, {"records": [penalty(uscc, number, **overrides)]})
    assert body["data"]["importRecords"]["errors"] == [], body
    record_id: str = body["data"]["importRecords"]["records"][0]["id"]
    return record_id


def code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None


async def topics(api: Api) -> list[str]:
    async with api.engine.connect() as conn:
        return list((await conn.execute(sa.select(outbox.c.topic).order_by(outbox.c.id))).scalars())


async def test_wg_art_19_employer_objects_to_its_own_record_and_what_it_drives_says_disputed(api: Api) -> None:
    setup = await setup_employers(api)
    before = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert before["grade"] == {"level": "C", "disputed": False}
    assert before["restrictions"] and not any(r["disputed"] for r in before["restrictions"])

    body = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "处罚金额有误"}, token=setup["token"])
    filed = body["data"]["submitObjection"]
    expected = CAL.working_days_after(TODAY, 3)
    assert filed["status"] == "SUBMITTED" and filed["needsExternalVerification"] is False
    assert filed["dueOn"] == expected.day.isoformat() and filed["deadlinesProvisional"] is expected.provisional
    assert filed["decidedAt"] is None and filed["pushDueOn"] is None and filed["pushedAt"] is None
    assert filed["record"] == {"id": setup["own_record"], "status": "UNDER_OBJECTION", "version": 1}

    me = await api.gql(
        "{ me { grade { level disputed } restrictions { sector disputed } objections { id status reason } } }",
        token=setup["token"],
    )
    mine = me["data"]["me"]
    assert mine["grade"] == {"level": "C", "disputed": True}  # the record keeps its effect (SH art. 10)
    assert mine["restrictions"] and all(r["disputed"] for r in mine["restrictions"])
    assert mine["objections"] == [{"id": filed["id"], "status": "SUBMITTED", "reason": "处罚金额有误"}]
    # The write is audited with the subject it touched.
    async with api.engine.connect() as conn:
        entry = (
            await conn.execute(
                sa.select(audit_log.c.subject_ids, audit_log.c.operation_type, audit_log.c.outcome)
                .where(audit_log.c.operation_type == "mutation")
                .order_by(audit_log.c.id.desc())
                .limit(1)
            )
        ).one()
    assert entry.subject_ids == [setup["own"]["id"]] and entry.outcome == "ok"


async def test_wg_art_20_1_due_on_counts_working_days_across_national_day_and_spring_festival_2026(
    api: Api,
) -> None:
    uscc = factories.new_uscc()
    cases = [
        # (received, needs another department, due) — every due day checked against the calendar below.
        (date(2026, 9, 30), False, date(2026, 10, 10)),  # the make-up Saturday after National Day
        (date(2026, 9, 30), True, date(2026, 10, 20)),
        (date(2026, 2, 13), False, date(2026, 2, 25)),  # the make-up Saturday 14 Feb counts, the holiday not
        (date(2026, 2, 13), True, date(2026, 3, 5)),
    ]
    for index, (received, external, due) in enumerate(cases):
        decided = received - timedelta(days=10)
        record_id = await import_one(
            api,
            uscc,
            f"沪人社监罚〔2026〕{300 + index}号",
            decidedOn=decided.isoformat(),
            publicityUntil=(decided + timedelta(days=120)).isoformat(),
        )
        body = await api.gql(
            SUBMIT, {"r": record_id, "reason": "信息有误", "ext": external, "on": received.isoformat()}
        )
        filed = body["data"]["submitObjection"]
        computed = CAL.working_days_after(received, 10 if external else 3)
        assert computed.day == due and CAL.is_working_day(due) == (True, False)
        assert filed["dueOn"] == due.isoformat() and filed["needsExternalVerification"] is external
        assert filed["deadlinesProvisional"] is False


async def test_wg_art_19_employer_cannot_object_to_another_employers_record(api: Api) -> None:
    setup = await setup_employers(api)
    body = await api.gql(SUBMIT, {"r": setup["other_record"], "reason": "不是我的"}, token=setup["token"])
    assert code(body) == "FORBIDDEN" and body["data"] is None
    assert OTHER.name not in str(body)
    status = await api.gql(STANDING, {"u": OTHER.uscc})
    assert status["data"]["subject"]["records"]["edges"][0]["node"]["status"] == "ACTIVE"
    async with api.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(objections))).scalar_one() == 0


async def test_wg_art_20_1_an_employers_objection_is_received_the_day_it_is_filed(api: Api) -> None:
    setup = await setup_employers(api)
    back = (TODAY - timedelta(days=3)).isoformat()
    body = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "x", "on": back}, token=setup["token"])
    assert code(body) == "BAD_USER_INPUT" and body["errors"][0]["extensions"]["field"] == "receivedOn"
    future = (TODAY + timedelta(days=1)).isoformat()
    body = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "x", "on": future})
    assert code(body) == "BAD_USER_INPUT" and body["errors"][0]["extensions"]["field"] == "receivedOn"
    body = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "  "}, token=setup["token"])
    assert code(body) == "BAD_USER_INPUT" and body["errors"][0]["extensions"]["field"] == "reason"


async def test_sh_art_10_a_second_open_objection_on_the_same_record_is_a_conflict(api: Api) -> None:
    setup = await setup_employers(api)
    first = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "第一次"}, token=setup["token"])
    assert first["data"]["submitObjection"]["status"] == "SUBMITTED"
    second = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "第二次"})
    assert code(second) == "CONFLICT"
    async with api.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(objections))).scalar_one() == 1


async def test_wg_art_20_correction_is_a_new_version_pushed_within_five_working_days(api: Api) -> None:
    setup = await setup_employers(api)
    filed = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "标题有误"}, token=setup["token"])
    objection_id = filed["data"]["submitObjection"]["id"]
    body = await api.gql(
        DECIDE,
        {
            "o": objection_id,
            "correct": True,
            "decision": "核查属实，更正标题",
            "c": {"title": "一般程序行政处罚：未依法参加社会保险"},
        },
    )
    decided = body["data"]["decideObjection"]
    push = CAL.working_days_after(TODAY, 5)
    assert decided["status"] == "CORRECTED" and decided["decision"] == "核查属实，更正标题"
    assert decided["pushDueOn"] == push.day.isoformat() and decided["decidedAt"] is not None
    assert decided["record"] == {"id": setup["own_record"], "status": "CORRECTED", "version": 1}
    new = decided["correctedRecord"]
    assert (new["status"], new["version"], new["title"]) == ("ACTIVE", 2, "一般程序行政处罚：未依法参加社会保险")
    assert new["severity"] == "GENERAL"  # what the decision does not correct is kept

    async with api.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    credit_records.c.id,
                    credit_records.c.version,
                    credit_records.c.status,
                    credit_records.c.superseded_by_id,
                    credit_records.c.previous_version_id,
                    credit_records.c.decision_number,
                ).order_by(credit_records.c.id)
            )
        ).all()
        stored = (await conn.execute(sa.select(objections))).one()
    old, _, fresh = rows  # the other employer's record sits between them
    assert old.superseded_by_id == fresh.id and fresh.previous_version_id == old.id
    assert (old.status, fresh.status, fresh.version, fresh.decision_number) == (
        "CORRECTED",
        "ACTIVE",
        2,
        old.decision_number,
    )
    assert stored.status == "CORRECTED" and stored.corrected_record_id == fresh.id
    assert stored.decided_by and stored.push_due_on == push.day
    assert await topics(api) == ["record.created", "record.created", "record.corrected", "objection.decided"]

    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert standing["grade"] == {"level": "C", "disputed": False}  # still a penalty, no longer disputed
    assert all(not r["disputed"] for r in standing["restrictions"])
    assert {r["sourceRecord"]["id"] for r in standing["restrictions"]} == {new["id"]}
    # A corrected (superseded) version takes no objection; the new version does.
    again = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "再议"}, token=setup["token"])
    assert code(again) == "CONFLICT"
    current = await api.gql(SUBMIT, {"r": new["id"], "reason": "再议"}, token=setup["token"])
    assert current["data"]["submitObjection"]["record"] == {"id": new["id"], "status": "UNDER_OBJECTION", "version": 2}


async def test_wg_art_20_a_correction_that_revokes_the_penalty_raises_the_grade_back_to_a(api: Api) -> None:
    setup = await setup_employers(api)
    filed = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "并无此违法行为"}, token=setup["token"])
    body = await api.gql(
        DECIDE,
        {
            "o": filed["data"]["submitObjection"]["id"],
            "correct": True,
            "decision": "处罚决定已撤销",
            "c": {"revoke": True},
        },
    )
    decided = body["data"]["decideObjection"]
    assert decided["status"] == "CORRECTED"
    assert decided["record"]["status"] == "REVOKED" and decided["correctedRecord"]["status"] == "REVOKED"
    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert standing["grade"] == {"level": "A", "disputed": False}
    assert standing["restrictions"] == []
    assert await topics(api) == ["record.created", "record.created", "record.revoked", "objection.decided"]
    # A revoked record takes no objection.
    again = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "再议"}, token=setup["token"])
    assert code(again) == "CONFLICT"


async def test_sh_art_10_a_rejection_returns_the_record_to_active_and_not_disputed(api: Api) -> None:
    setup = await setup_employers(api)
    filed = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "金额有误"}, token=setup["token"])
    objection_id = filed["data"]["submitObjection"]["id"]
    body = await api.gql(DECIDE, {"o": objection_id, "correct": False, "decision": "经核查，信息无误"})
    decided = body["data"]["decideObjection"]
    assert decided["status"] == "REJECTED" and decided["correctedRecord"] is None
    assert decided["record"] == {"id": setup["own_record"], "status": "ACTIVE", "version": 1}
    assert decided["pushDueOn"] == CAL.working_days_after(TODAY, 5).day.isoformat()
    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert standing["grade"] == {"level": "C", "disputed": False}
    assert standing["restrictions"] and not any(r["disputed"] for r in standing["restrictions"])
    assert await topics(api) == ["record.created", "record.created", "objection.decided"]
    # Decided once: a second decision is a conflict, and a new objection may be filed.
    again = await api.gql(DECIDE, {"o": objection_id, "correct": True, "decision": "改判"})
    assert code(again) == "CONFLICT"
    refiled = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "补充材料"}, token=setup["token"])
    assert refiled["data"]["submitObjection"]["status"] == "SUBMITTED"


async def test_wg_art_7_a_correction_is_checked_and_a_bad_one_changes_nothing(api: Api) -> None:
    setup = await setup_employers(api)
    filed = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "应为严重失信"})
    objection_id = filed["data"]["submitObjection"]["id"]
    body = await api.gql(
        DECIDE,
        {"o": objection_id, "correct": True, "decision": "更正", "c": {"severity": "SERIOUS", "legalBasis": None}},
    )
    assert code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "correction.legalBasis"
    rejected = await api.gql(
        DECIDE, {"o": objection_id, "correct": False, "decision": "驳回", "c": {"title": "新标题"}}
    )
    assert code(rejected) == "BAD_USER_INPUT" and rejected["errors"][0]["extensions"]["field"] == "correction"
    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert [e["node"]["status"] for e in standing["records"]["edges"]] == ["UNDER_OBJECTION"]
    assert standing["grade"]["disputed"] is True
    assert await topics(api) == ["record.created", "record.created"]


async def decisions_audited(api: Api) -> list[tuple[str, list[int]]]:
    """The outcome and subjects of every audited decideObjection, oldest first."""
    query = (
        sa.select(audit_log.c.outcome, audit_log.c.subject_ids)
        .where(sa.literal("Mutation.decideObjection") == sa.any_(audit_log.c.fields_returned))
        .order_by(audit_log.c.id)
    )
    async with api.engine.connect() as conn:
        return [(r.outcome, list(r.subject_ids)) for r in await conn.execute(query)]


async def test_sh_art_10_a_correction_that_changes_nothing_is_refused_naming_correction(api: Api) -> None:
    setup = await setup_employers(api)
    filed = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "信息有误"}, token=setup["token"])
    objection_id = filed["data"]["submitObjection"]["id"]
    current = await api.gql(
        "query ($i: ID!) { node(id: $i) { ... on CreditRecord { title severity } } }", {"i": setup["own_record"]}
    )
    title, severity = current["data"]["node"]["title"], current["data"]["node"]["severity"]
    for correction in (
        None,  # no correction at all
        {},
        {"revoke": False},
        {"title": title},
        {"title": f"  {title} ", "severity": severity},  # compared as stored: trimmed
    ):
        variables: dict[str, Any] = {"o": objection_id, "correct": True, "decision": "核查属实"}
        if correction is not None:
            variables["c"] = correction
        body = await api.gql(DECIDE, variables)
        assert code(body) == "BAD_USER_INPUT", (correction, body)
        assert body["errors"][0]["extensions"]["field"] == "correction"
        assert body["data"] is None
    named = await api.gql(DECIDE, {"o": objection_id, "correct": True, "decision": "核查属实", "c": {"title": title}})
    assert named["errors"][0]["extensions"]["unchanged"] == ["correction.title"]
    assert "correction.title" in named["errors"][0]["message"]

    # Nothing was written: the objection is open, the record under objection in version 1, no event queued.
    async with api.engine.connect() as conn:
        stored = (await conn.execute(sa.select(objections.c.status, objections.c.decided_at))).one()
        versions = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(credit_records)
                .where(credit_records.c.subject_id == setup["own"]["id"])
            )
        ).scalar_one()
    assert (stored.status, stored.decided_at) == ("SUBMITTED", None) and versions == 1
    standing = (await api.gql(STANDING, {"u": OWN.uscc}))["data"]["subject"]
    assert [e["node"] for e in standing["records"]["edges"]] == [
        {"id": setup["own_record"], "status": "UNDER_OBJECTION", "version": 1}
    ]
    assert await topics(api) == ["record.created", "record.created"]
    # Each refused attempt is audited, as every write that raised is.
    assert await decisions_audited(api) == [("rolled back with 1 error(s)", [setup["own"]["id"]])] * 6

    # A correction that changes one field is accepted, though it also names one that keeps its value.
    body = await api.gql(
        DECIDE,
        {
            "o": objection_id,
            "correct": True,
            "decision": "核查属实",
            "c": {"title": "更正后的标题", "severity": severity},
        },
    )
    new = body["data"]["decideObjection"]["correctedRecord"]
    assert (new["version"], new["title"], new["severity"]) == (2, "更正后的标题", severity), body


async def test_wg_art_20_overdue_objections_for_admin_and_inspection_not_procurement(api: Api) -> None:
    uscc = factories.new_uscc()
    decided = date(2026, 9, 1)
    late_record = await import_one(
        api,
        uscc,
        "沪人社监罚〔2026〕401号",
        decidedOn=decided.isoformat(),
        publicityUntil=(decided + timedelta(days=120)).isoformat(),
    )
    fresh_record = await import_one(api, uscc, "沪人社监罚〔2026〕402号")
    late = (await api.gql(SUBMIT, {"r": late_record, "reason": "逾期", "on": "2026-09-30"}))["data"]["submitObjection"]
    fresh = (await api.gql(SUBMIT, {"r": fresh_record, "reason": "未逾期"}))["data"]["submitObjection"]
    assert late["dueOn"] == "2026-10-10"

    def ids(body: dict[str, Any]) -> list[str]:
        return [o["id"] for o in body["data"]["overdueObjections"]]

    assert ids(await api.gql(OVERDUE, {"d": "2026-10-10"})) == []  # deciding on the due day is in time
    assert ids(await api.gql(OVERDUE, {"d": "2026-10-11"})) == [late["id"]]
    assert ids(await api.gql(OVERDUE, {"d": "2026-10-11"}, as_client="inspection")) == [late["id"]]
    assert ids(await api.gql(OVERDUE, {})) == [late["id"]]  # as of today
    refused = await api.gql(OVERDUE, {}, as_client="procurement")
    assert refused["errors"][0]["message"] == "Cannot query field 'overdueObjections' on type 'Query'."

    # Decided late: still a breach of WG art. 20(1). Decided in time: a breach only once the push is late.
    await api.gql(DECIDE, {"o": late["id"], "correct": False, "decision": "驳回"})
    pushed = await api.gql(DECIDE, {"o": fresh["id"], "correct": False, "decision": "驳回"})
    push_due = date.fromisoformat(pushed["data"]["decideObjection"]["pushDueOn"])
    after_push_due = (push_due + timedelta(days=1)).isoformat()
    assert ids(await api.gql(OVERDUE, {})) == [late["id"]]
    assert set(ids(await api.gql(OVERDUE, {"d": after_push_due}))) == {late["id"], fresh["id"]}
    # The relay pushes the decision events: the push is done, pushedAt shows when.
    async with api.engine.begin() as conn:
        await conn.execute(outbox.update().values(pushed_at=sa.func.now()))
    listed = (await api.gql(OVERDUE, {"d": after_push_due}))["data"]["overdueObjections"]
    assert [o["id"] for o in listed] == [late["id"]] and listed[0]["pushedAt"] is not None
    both = await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { objections { id pushedAt } } }", {"u": uscc})
    assert all(o["pushedAt"] for o in both["data"]["subject"]["objections"])


async def test_an_employer_lists_only_its_own_overdue_objections(api: Api) -> None:
    setup = await setup_employers(api)
    for record_id in (setup["own_record"], setup["other_record"]):
        await api.gql(SUBMIT, {"r": record_id, "reason": "逾期", "on": (TODAY - timedelta(days=20)).isoformat()})
    everything = await api.gql(OVERDUE, {})
    assert len(everything["data"]["overdueObjections"]) == 2
    own = await api.gql(OVERDUE, {}, token=setup["token"])
    assert [o["record"]["id"] for o in own["data"]["overdueObjections"]] == [setup["own_record"]]


async def test_objection_scopes_follow_the_policy(api: Api) -> None:
    setup = await setup_employers(api)
    employer_decides = await api.gql(
        'mutation { decideObjection(id: "x", correct: true, decision: "x") { id } }', token=setup["token"]
    )
    assert "Cannot query field 'decideObjection'" in employer_decides["errors"][0]["message"]
    inspection_files = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "x"}, as_client="inspection")
    assert inspection_files["errors"][0]["message"] == "The mutation operation is not supported by the schema."
    procurement = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { objections { id } } }",
        {"u": OWN.uscc},
        as_client="procurement",
    )
    assert procurement["errors"][0]["message"] == "Cannot query field 'objections' on type 'Subject'."
    # Inspection reads them, with the record they concern.
    await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "x"}, token=setup["token"])
    read = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { objections { status record { id status } } } }",
        {"u": OWN.uscc},
        as_client="inspection",
    )
    assert read["data"]["subject"]["objections"] == [
        {"status": "SUBMITTED", "record": {"id": setup["own_record"], "status": "UNDER_OBJECTION"}}
    ]


class NoOfficialSchedule(WorkCalendar):
    """A calendar that knows no year's official schedule: every day is counted Monday to Friday, provisionally."""

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        return day.weekday() < 5, True


async def test_wg_art_20_deadlines_in_a_year_without_an_official_schedule_are_provisional(api: Api) -> None:
    api.app.state.work_calendar = NoOfficialSchedule()
    uscc = factories.new_uscc()
    record_id = await import_one(api, uscc, "沪人社监罚〔2026〕601号")
    filed = (await api.gql(SUBMIT, {"r": record_id, "reason": "x"}))["data"]["submitObjection"]
    weekdays = [TODAY + timedelta(days=i) for i in range(1, 10) if (TODAY + timedelta(days=i)).weekday() < 5]
    assert filed["dueOn"] == weekdays[2].isoformat() and filed["deadlinesProvisional"] is True
    decided = await api.gql(DECIDE, {"o": filed["id"], "correct": False, "decision": "驳回"})
    assert decided["data"]["decideObjection"]["pushDueOn"] == weekdays[4].isoformat()
    assert decided["data"]["decideObjection"]["deadlinesProvisional"] is True


async def test_demo_objections_and_repairs_are_readable_by_inspection(demo_api: Api) -> None:
    query = """query ($u: String!) { subject(ref: {uscc: $u}) {
      objections { status dueOn deadlinesProvisional pushedAt record { status } }
      repairs { status decidedAt record { status } } } }"""
    for role, field, expected in (
        ("employer with a record under objection", "objections", {"status": "SUBMITTED"}),
        ("employer with a repaired record", "repairs", {"status": "APPROVED"}),
    ):
        subject = next(s for s in named_subjects() if s.role == role)
        body = await demo_api.gql(query, {"u": subject.uscc}, as_client="inspection")
        found = body["data"]["subject"][field]
        assert found and all(expected.items() <= item.items() for item in found), body
        assert found[0]["record"]["status"] == ("UNDER_OBJECTION" if field == "objections" else "REPAIRED")


async def test_unknown_ids_are_not_found(api: Api) -> None:
    body = await api.gql(SUBMIT, {"r": global_id("CreditRecord", 999), "reason": "x"})
    assert code(body) == "NOT_FOUND"
    body = await api.gql(DECIDE, {"o": global_id("Objection", 999), "correct": False, "decision": "x"})
    assert code(body) == "NOT_FOUND"


async def test_objections_and_repairs_of_a_page_of_subjects_are_batched(api: Api) -> None:
    for i in range(5):
        uscc = factories.new_uscc()
        record_id = await import_one(api, uscc, f"沪人社监罚〔2026〕{500 + i}号")
        await api.gql(SUBMIT, {"r": record_id, "reason": "x"})
    query = """{ subjects(first: 20) { edges { node { name
      objections { id status record { id status subject { name } } } repairs { id } } } } }"""
    await api.gql("{ catalogue { recordTypes } }")
    with count_statements(api.engine) as counter:
        body = await api.gql(query)
    edges = body["data"]["subjects"]["edges"]
    assert len(edges) == 5 and all(len(e["node"]["objections"]) == 1 for e in edges)
    # subjects page, total count, objections (one batch), repairs (one batch), their records (one batch).
    assert len(counter.excluding_audit()) == 5, counter.statements


async def test_objections_resolve_by_node_id_under_the_same_row_rule(api: Api) -> None:
    setup = await setup_employers(api)
    admin_token = await api.token("admin")
    own = await api.gql(SUBMIT, {"r": setup["own_record"], "reason": "金额有误"}, token=setup["token"])
    other = await api.gql(SUBMIT, {"r": setup["other_record"], "reason": "另一家"}, token=admin_token)
    query = "query ($i: ID!) { node(id: $i) { id ... on Objection { reason } } }"
    mine = await api.gql(query, {"i": own["data"]["submitObjection"]["id"]}, token=setup["token"])
    assert mine["data"]["node"]["reason"] == "金额有误"
    theirs = await api.gql(query, {"i": other["data"]["submitObjection"]["id"]}, token=setup["token"])
    # Another subject's objection answers as an unknown id does.
    assert theirs == {"data": {"node": None}}
    by_admin = await api.gql(query, {"i": other["data"]["submitObjection"]["id"]})
    assert by_admin["data"]["node"]["reason"] == "另一家"
    procurement = await api.gql(
        "query ($i: ID!) { node(id: $i) { id } }", {"i": own["data"]["submitObjection"]["id"]}, as_client="procurement"
    )
    assert code(procurement) == "FORBIDDEN"
