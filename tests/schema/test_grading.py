"""Grades through the API: the rule and its article, a Chinese explanation, measures, history, past as-of dates."""

from __future__ import annotations

from datetime import date, timedelta

from domain.periods import add_months
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import refused_by_schema
from tests.schema.test_writes import IMPORT, TODAY, penalty

EXPLAIN = """
query ($u: String!, $d: Date) { subject(ref: {uscc: $u}) {
  grade(asOf: $d) { level asOf cycleStart cycleEnd rule { document article text } explanation
                    basis { decisionNumber } measures { kind description legalBasis { article } } }
  gradeHistory { level validFrom validTo }
  supervision { inspection measures { kind legalBasis { article } } }
} }
"""


async def test_wg_art_12_1_penalty_grades_c_with_rule_explanation_and_measures(api: Api) -> None:
    uscc = factories.new_uscc()
    decided = TODAY - timedelta(days=30)
    await api.gql(IMPORT, {"records": [penalty(uscc, decidedOn=decided.isoformat())]})
    subject = (await api.gql(EXPLAIN, {"u": uscc}, as_client="inspection"))["data"]["subject"]
    grade = subject["grade"]
    assert grade["level"] == "C"
    assert grade["rule"]["article"] == "第十二条第（一）项" and "舞人社〔2022〕127号" in grade["rule"]["document"]
    assert "行政处罚" in grade["explanation"] and "C级" in grade["explanation"]
    assert [b["decisionNumber"] for b in grade["basis"]] == ["沪人社监罚〔2026〕1号"]
    assert grade["cycleStart"] == f"{TODAY.year}-01-01" and grade["cycleEnd"] == f"{TODAY.year}-12-31"
    assert {m["legalBasis"]["article"] for m in grade["measures"]} >= {"第十七条第（一）项", "第十七条第（二）项"}
    assert subject["supervision"]["inspection"] == "KEY_TARGET"
    # The day before the penalty the organization was A; the history shows both.
    before = await api.gql(EXPLAIN, {"u": uscc, "d": (decided - timedelta(days=1)).isoformat()}, as_client="inspection")
    assert before["data"]["subject"]["grade"]["level"] == "A"
    levels = [(g["level"], g["validFrom"]) for g in subject["gradeHistory"]]
    assert ("C", decided.isoformat()) in levels and levels[-1][0] == "A"


async def test_wg_art_12_1_window_day_before_of_and_after_through_the_api(api: Api) -> None:
    uscc = factories.new_uscc()
    decided = date(2025, 3, 10)
    await api.gql(
        IMPORT,
        {"records": [penalty(uscc, decidedOn=decided.isoformat(), publicityUntil=None, penaltyFulfilled=False)]},
    )
    query = "query ($u: String!, $d: Date) { subject(ref: {uscc: $u}) { grade(asOf: $d) { level rule { article } } } }"
    end = add_months(decided, 12)
    rules = []
    for day in (end - timedelta(days=1), end, end + timedelta(days=1)):
        grade = (await api.gql(query, {"u": uscc, "d": day.isoformat()}))["data"]["subject"]["grade"]
        rules.append((grade["level"], grade["rule"]["article"]))
    # Inside the window WG 12(1) decides; after it the C stays under WG 21 because the penalty is not fulfilled.
    assert rules == [("C", "第十二条第（一）项"), ("C", "第十二条第（一）项"), ("C", "第二十一条")]


async def test_grade_explanation_needs_grade_explain(api: Api) -> None:
    org = await factories.organization(api.engine)
    await api.gql(IMPORT, {"records": [penalty(org["uscc"])]})
    body = await api.gql(
        "query ($u: String!) { subject(ref: {uscc: $u}) { grade { level explanation } } }",
        {"u": org["uscc"]},
        as_client="procurement",
    )
    assert refused_by_schema(body, "Grade", "explanation")


async def test_individuals_have_no_grade(api: Api) -> None:
    person = await factories.individual(api.engine)
    body = await api.gql(
        "query ($n: String!) { subject(ref: {idNumber: $n}) { grade { level } supervision { inspection } } }",
        {"n": person["id_number"]},
    )
    assert body["data"]["subject"] == {"grade": None, "supervision": None}


async def test_grades_before_wg_took_effect_are_null(api: Api) -> None:
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [penalty(uscc)]})
    body = await api.gql(
        'query ($u: String!) { subject(ref: {uscc: $u}) { grade(asOf: "2022-12-14") { level } } }', {"u": uscc}
    )
    assert body["data"]["subject"]["grade"] is None
    body = await api.gql(
        'query ($u: String!) { subject(ref: {uscc: $u}) { grade(asOf: "2022-12-15") { level } } }', {"u": uscc}
    )
    assert body["data"]["subject"]["grade"]["level"] == "A"


async def test_subjects_filter_by_current_grade(api: Api) -> None:
    c_org = factories.new_uscc()
    await api.gql(IMPORT, {"records": [penalty(c_org)]})
    await api.gql(
        IMPORT,
        {
            "records": [
                penalty(
                    factories.new_uscc(),
                    "沪人社监罚〔2026〕2号",
                    type="AWARD",
                    severity=None,
                    legalBasis=None,
                    publicityUntil=None,
                )
            ]
        },
    )
    body = await api.gql("{ subjects(grade: C) { totalCount edges { node { uscc } } } }")
    assert body["data"]["subjects"]["totalCount"] == 1
    assert body["data"]["subjects"]["edges"][0]["node"]["uscc"] == c_org
