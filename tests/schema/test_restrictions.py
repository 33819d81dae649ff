"""Restrictions and batch screening through the API: sector scopes, request order, one round trip, as-of."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from api.settings import Settings
from schema.ids import global_id
from tests import factories
from tests.conftest import Api, count_statements, running_app
from tests.schema.test_writes import IMPORT, TODAY

SCREEN = """
query ($sector: Sector!, $refs: [SubjectRef!]!, $d: Date) {
  screen(sector: $sector, refs: $refs, asOf: $d) {
    ref found restricted subject { name } restrictions { sector measure since until legalBasis { document article } disputed }
  }
}
"""


def blacklisting(uscc: str, decided: date, number: str = "沪人社监〔2026〕黑1号") -> dict[str, Any]:
    return {
        "subject": {"uscc": uscc},
        "subjectName": "上海欠薪建设工程有限公司",
        "type": "WAGE_ARREARS_BLACKLIST",
        "severity": "SERIOUS",
        "title": "列入拖欠农民工工资失信联合惩戒对象名单",
        "decisionNumber": number,
        "sourceUnit": "上海市人力资源和社会保障局",
        "legalBasis": "《保障农民工工资支付条例》第四十八条",
        "decidedOn": decided.isoformat(),
        "publicityUntil": (decided + timedelta(days=365 * 3)).isoformat(),
    }


async def test_sh_art_9_1_blacklisted_bidder_is_restricted_in_procurement(api: Api) -> None:
    listed = factories.new_uscc()
    decided = TODAY - timedelta(days=20)
    assert (await api.gql(IMPORT, {"records": [blacklisting(listed, decided)]}))["data"]["importRecords"][
        "created"
    ] == 1
    clean = await factories.organization(api.engine, "上海守信有限公司")
    unknown = factories.new_uscc()
    refs = [{"uscc": clean["uscc"]}, {"uscc": listed}, {"uscc": unknown}, {"id": global_id("Subject", clean["id"])}]
    body = await api.gql(SCREEN, {"sector": "GOVERNMENT_PROCUREMENT", "refs": refs}, as_client="procurement")
    results = body["data"]["screen"]
    assert [(r["ref"], r["found"], r["restricted"]) for r in results] == [
        (clean["uscc"], True, False),
        (listed, True, True),
        (unknown, False, False),
        (global_id("Subject", clean["id"]), True, False),
    ]
    [restriction] = results[1]["restrictions"]
    assert restriction["sector"] == "GOVERNMENT_PROCUREMENT"
    assert restriction["since"] == decided.isoformat()
    assert restriction["legalBasis"]["article"] == "第四十八条"  # SC 724 art. 48, restated by SH art. 9(1)
    # Before the listing the same question is answered "not restricted": past checks are reproducible.
    before = await api.gql(
        SCREEN,
        {
            "sector": "GOVERNMENT_PROCUREMENT",
            "refs": [{"uscc": listed}],
            "d": (decided - timedelta(days=1)).isoformat(),
        },
        as_client="procurement",
    )
    assert before["data"]["screen"][0]["restricted"] is False


async def test_screen_of_many_refs_is_one_statement_on_the_general_path_too(
    settings: Settings, database_url: str
) -> None:
    """The compiled screen is one statement (tests/api/test_compiled.py); the resolvers' screen, which answers
    what does not compile (ID numbers, ids), is one statement besides its audit entry."""
    general = settings.model_copy(update={"compiled_reads": False})
    async with running_app(general, database_url) as api:
        orgs = [await factories.organization(api.engine) for _ in range(30)]
        refs = [{"uscc": o["uscc"]} for o in orgs] * 10
        await api.gql("{ catalogue { recordTypes } }", as_client="procurement")  # the token is issued outside
        with count_statements(api.engine) as counter:
            body = await api.gql(SCREEN, {"sector": "BIDDING", "refs": refs}, as_client="procurement")
        assert len(body["data"]["screen"]) == 300
        assert len(counter.excluding_audit()) == 1, counter.statements


async def test_screen_names_the_index_of_an_invalid_ref(api: Api) -> None:
    refs = [{"uscc": factories.new_uscc()}, {"uscc": factories.new_uscc()[:-1] + "?"}]
    body = await api.gql(SCREEN, {"sector": "BIDDING", "refs": refs}, as_client="procurement")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "refs[1].uscc"
    assert body["errors"][0]["extensions"]["index"] == 1


async def test_screen_refuses_more_than_1000_refs(api: Api) -> None:
    refs = [{"uscc": factories.new_uscc()}] * 1001
    body = await api.gql(SCREEN, {"sector": "BIDDING", "refs": refs}, as_client="procurement")
    assert body["errors"][0]["extensions"]["field"] == "refs"


async def test_a_sector_outside_the_callers_scopes_is_forbidden_not_empty(api: Api) -> None:
    org = await factories.organization(api.engine)
    body = await api.gql(SCREEN, {"sector": "TRAVEL", "refs": [{"uscc": org["uscc"]}]}, as_client="procurement")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { name restrictions(sector: TRAVEL) { sector } } }"
    body = await api.gql(query, {"u": org["uscc"]}, as_client="procurement")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["subject", "restrictions"]


async def test_restrictions_without_a_sector_show_only_the_callers_sectors(api: Api) -> None:
    listed = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(listed, TODAY - timedelta(days=5))]})
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { restrictions { sector } } }"
    procurement = (await api.gql(query, {"u": listed}, as_client="procurement"))["data"]["subject"]["restrictions"]
    assert sorted(r["sector"] for r in procurement) == ["BIDDING", "GOVERNMENT_PROCUREMENT"]
    admin = (await api.gql(query, {"u": listed}, as_client="admin"))["data"]["subject"]["restrictions"]
    assert {r["sector"] for r in admin} >= {
        "GOVERNMENT_FUNDING",
        "GOVERNMENT_PROCUREMENT",
        "BIDDING",
        "FINANCING_LOANS",
        "MARKET_ACCESS",
        "TAX_INCENTIVES",
        "AWARDS",
        "TRAVEL",
    }


async def test_catalogue_lists_the_sector_measures(api: Api) -> None:
    body = await api.gql("{ catalogue { sectorMeasures { sector trigger measure legalBasis { document article } } } }")
    measures = body["data"]["catalogue"]["sectorMeasures"]
    pairs = {(m["sector"], m["trigger"]) for m in measures}
    assert ("GOVERNMENT_PROCUREMENT", "WAGE_ARREARS_BLACKLIST") in pairs
    assert ("STARTUP_GUARANTEE_LOANS", "JUDGMENT_DEFAULTER") in pairs
    assert ("YOUTH_INTERNSHIP_BASES", "JUDGMENT_DEFAULTER") in pairs
    assert all(m["legalBasis"]["article"] for m in measures)


async def test_scopes_outside_the_audience_grant_nothing(api: Api) -> None:
    """policy.md: a check uses the token's scopes ∩ its audience's scopes, never the raw token."""
    listed = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(listed, TODAY - timedelta(days=5))]})
    token = api.signed_token(
        "procurement", "subject:read grade:read restriction:government_procurement restriction:travel"
    )
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { restrictions(sector: TRAVEL) { sector } } }"
    body = (await api.post(query, {"u": listed}, token=token)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { restrictions { sector } } }"
    body = (await api.post(query, {"u": listed}, token=token)).json()
    assert [r["sector"] for r in body["data"]["subject"]["restrictions"]] == ["GOVERNMENT_PROCUREMENT"]
    body = (await api.post(SCREEN, {"sector": "TRAVEL", "refs": [{"uscc": listed}]}, token=token)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RECORDS_OF = """query ($u: String!) { subject(ref: {uscc: $u}) {
  records(first: 10) { edges { node { publicityUntil publishedUntil published } } } } }"""


async def test_ndrc_2025_36_a_listing_without_a_window_is_published_and_restricts_simplified_procedures(
    api: Api,
) -> None:
    """NDRC 2025/36 / MOHRSS 45: a listing sent without publicityUntil is published for its listing term, and SH art.
    8(2)3 restricts the simplified procedures (COMMITMENT_APPROVAL) for as long, like one sent with a window."""
    listed = factories.new_uscc()
    decided = TODAY - timedelta(days=60)
    listing = {**blacklisting(listed, decided), "publicityUntil": None}
    assert (await api.gql(IMPORT, {"records": [listing]}))["data"]["importRecords"]["created"] == 1
    (node,) = [e["node"] for e in (await api.gql(RECORDS_OF, {"u": listed}))["data"]["subject"]["records"]["edges"]]
    end = date(decided.year + 3, decided.month, decided.day)
    assert node == {"publicityUntil": None, "publishedUntil": end.isoformat(), "published": True}
    portal = await api.gql(RECORDS_OF, {"u": listed}, as_client="portal")
    assert [e["node"]["published"] for e in portal["data"]["subject"]["records"]["edges"]] == [True]

    async def commitment(day: date) -> list[dict[str, Any]]:
        body = await api.gql(
            SCREEN,
            {"sector": "COMMITMENT_APPROVAL", "refs": [{"uscc": listed}], "d": day.isoformat()},
            as_client="admin",
        )
        result: list[dict[str, Any]] = body["data"]["screen"][0]["restrictions"]
        return result

    assert await commitment(decided - timedelta(days=1)) == []
    (on_decision,) = await commitment(decided)
    assert on_decision["legalBasis"]["article"] == "第八条第（二）项第3目"
    assert on_decision["since"] == decided.isoformat()


async def test_sh_art_14_the_wage_arrears_punishment_runs_past_sh_under_the_national_law(api: Api) -> None:
    """A listing of 2026-11-01 still restricts bidding on 2028-09-01 (SH ended 2028-08-31), citing SC 724 art. 48, and
    until its last day 2029-11-01; SH art. 8(2)3 ends with SH."""
    listed = factories.new_uscc()
    assert (await api.gql(IMPORT, {"records": [blacklisting(listed, date(2026, 11, 1))]}))["data"]["importRecords"][
        "created"
    ] == 1

    async def sectors(day: date, sector: str) -> list[tuple[str, str, str | None]]:
        body = await api.gql(
            SCREEN, {"sector": sector, "refs": [{"uscc": listed}], "d": day.isoformat()}, as_client="admin"
        )
        return [
            (r["legalBasis"]["document"], r["legalBasis"]["article"], r["until"])
            for r in body["data"]["screen"][0]["restrictions"]
        ]

    law = ("国务院令第724号《保障农民工工资支付条例》", "第四十八条", "2029-11-01")
    for day in (date(2028, 8, 31), date(2028, 9, 1), date(2029, 11, 1)):
        assert await sectors(day, "BIDDING") == [law], day
    assert await sectors(date(2029, 11, 2), "BIDDING") == []
    assert len(await sectors(date(2028, 8, 31), "COMMITMENT_APPROVAL")) == 1
    assert await sectors(date(2028, 9, 1), "COMMITMENT_APPROVAL") == []
