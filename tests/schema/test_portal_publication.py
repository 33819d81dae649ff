"""WG art. 7 (舞人社〔2022〕127号 第七条): a public portal sees a record, whatever its category, only while it is
published, and its list, its count and a look-up by id agree. Through the real app and real tokens; the SQL scope
is also held against ``domain.publicity.is_published`` day by day on a real PostgreSQL.

The records connection has no as-of argument (a portal reads today), so the API tests place the windows around
``bureau_today()``; the SQL scope takes its day as an argument and is tested on fixed days.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import pytest

from auth.policy import Rows
from domain.periods import add_months
from domain.publicity import HARM_ELIMINATED, is_published, publication_end
from domain.taxonomy import CATEGORY_OF, RecordCategory, RecordStatus, RecordType, Severity
from schema.ids import global_id
from schema.rows import RowRules
from store import records as record_store
from store.db import bureau_today
from store.paging import Window
from store.records import RecordPageKey
from tests import factories
from tests.conftest import Api

T = TypeVar("T")

RECORDS = """query ($u: String!, $c: RecordCategory) { subject(ref: {uscc: $u}) {
    records(category: $c, includeInactive: true, first: 100) {
        totalCount edges { node { id decisionNumber published } } } } }"""
NODE = "query ($i: ID!) { node(id: $i) { id ... on CreditRecord { decisionNumber published } } }"
UNKNOWN_RECORD = global_id("CreditRecord", 987654321)


async def on_one_bureau_day(scenario: Callable[[date], Awaitable[T]]) -> T:
    """Run ``scenario`` with today's date, again if the bureau's day turned over while it ran: the windows are
    placed around the day the app reads on, which must be the day they were built for."""
    for _ in range(2):
        today = bureau_today()
        result = await scenario(today)
        if bureau_today() == today:
            return result
    raise AssertionError("the bureau's day turned over twice during one test")


def severity_of(type_: RecordType) -> str | None:
    return "GENERAL" if CATEGORY_OF[type_] is RecordCategory.DISHONESTY else None


@dataclass(frozen=True)
class Case:
    """A record placed relative to today: decided ``decided`` days from today, its window ending ``until`` days
    from today (None: no window), in ``status``; ``published``: what the portal must see."""

    label: str
    decided: int
    until: int | None
    status: RecordStatus
    published: bool


CASES = (
    Case("window open", -10, 100, RecordStatus.ACTIVE, True),
    Case("window open, under objection", -10, 100, RecordStatus.UNDER_OBJECTION, True),
    # NDRC 2025/36: no window is the longest one for dishonesty information (see ``published_for``).
    Case("no window", -10, None, RecordStatus.ACTIVE, False),
    Case("window passed", -400, -35, RecordStatus.ACTIVE, False),
    Case("window open, repaired", -10, 100, RecordStatus.REPAIRED, False),
    Case("window open, revoked", -10, 100, RecordStatus.REVOKED, False),
    Case("window open, corrected", -10, 100, RecordStatus.CORRECTED, False),
)


def published_for(case: Case, type_: RecordType) -> bool:
    """What the portal must see of ``case`` for a record of ``type_``: a GENERAL dishonesty record without a window
    is published for a year, a court's defaulter listing is not published by this system (SH art. 9(2))."""
    if case.until is None and case.status is RecordStatus.ACTIVE:
        return CATEGORY_OF[type_] is RecordCategory.DISHONESTY and type_ is not RecordType.JUDGMENT_DEFAULTER
    return case.published


async def portal_view(api: Api, uscc: str, category: RecordCategory | None = None) -> dict[str, Any]:
    variables = {"u": uscc, "c": category.value if category else None}
    body = await api.gql(RECORDS, variables, as_client="portal")
    assert "errors" not in body, body
    records: dict[str, Any] = body["data"]["subject"]["records"]
    return records


async def answers_as_unknown(api: Api, record_id: int) -> bool:
    hidden = (await api.post(NODE, {"i": global_id("CreditRecord", record_id)}, as_client="portal")).json()
    unknown = (await api.post(NODE, {"i": UNKNOWN_RECORD}, as_client="portal")).json()
    assert unknown == {"data": {"node": None}}
    return bool(hidden == unknown)


@pytest.mark.parametrize("type_", list(RecordType), ids=lambda t: t.value)
async def test_wg_art_7_the_portal_sees_a_record_only_while_it_is_published(api: Api, type_: RecordType) -> None:
    async def scenario(today: date) -> tuple[dict[str, Any], dict[str, int]]:
        org = await factories.organization(api.engine)
        ids: dict[str, int] = {}
        for case in CASES:
            ids[case.label] = await factories.record(
                api.engine,
                org["id"],
                type_,
                severity=severity_of(type_),
                decided_on=today + timedelta(days=case.decided),
                publicity_until=today + timedelta(days=case.until) if case.until is not None else None,
                status=case.status.value,
                decision_number=f"{type_.value}-{case.label}",
            )
        return org, ids

    org, ids = await on_one_bureau_day(scenario)
    expected = sorted(f"{type_.value}-{c.label}" for c in CASES if published_for(c, type_))

    records = await portal_view(api, org["uscc"])
    shown = sorted(e["node"]["decisionNumber"] for e in records["edges"])
    assert shown == expected
    assert records["totalCount"] == len(records["edges"]) == len(expected)
    assert all(e["node"]["published"] for e in records["edges"])
    # Filtering by the record's own category, or by another, finds nothing more.
    for category in RecordCategory:
        filtered = await portal_view(api, org["uscc"], category)
        assert filtered["totalCount"] == len(filtered["edges"])
        assert filtered["totalCount"] == (len(expected) if category is CATEGORY_OF[type_] else 0)

    # The records exist and the system itself says which are published: what the portal saw is exactly those.
    admin = await api.gql(RECORDS, {"u": org["uscc"], "c": None})
    flags = {e["node"]["decisionNumber"]: e["node"]["published"] for e in admin["data"]["subject"]["records"]["edges"]}
    assert admin["data"]["subject"]["records"]["totalCount"] == len(CASES)
    assert sorted(n for n, published in flags.items() if published) == expected

    # By id, a hidden record answers exactly as one that does not exist; a published one is found.
    for case in CASES:
        if published_for(case, type_):
            body = await api.gql(NODE, {"i": global_id("CreditRecord", ids[case.label])}, as_client="portal")
            assert body["data"]["node"]["published"] is True, case.label
        else:
            assert await answers_as_unknown(api, ids[case.label]), case.label


@pytest.mark.parametrize(
    ("label", "decided", "until", "published"),
    [
        ("the day before its decision", 1, 100, False),
        ("its decision day", 0, 100, True),
        ("the last day of its window", -100, 0, True),
        ("the day after its window", -100, -1, False),
    ],
)
async def test_wg_art_7_a_dishonesty_record_is_published_from_its_decision_day_to_its_last_day(
    api: Api, label: str, decided: int, until: int, published: bool
) -> None:
    async def scenario(today: date) -> tuple[dict[str, Any], int]:
        org = await factories.organization(api.engine)
        record_id = await factories.record(
            api.engine,
            org["id"],
            decided_on=today + timedelta(days=decided),
            publicity_until=today + timedelta(days=until),
        )
        return org, record_id

    org, record_id = await on_one_bureau_day(scenario)
    records = await portal_view(api, org["uscc"])
    assert records["totalCount"] == len(records["edges"]) == int(published), label
    if published:
        assert records["edges"][0]["node"]["published"] is True
        assert records["edges"][0]["node"]["id"] == global_id("CreditRecord", record_id)
    else:
        assert await answers_as_unknown(api, record_id), label


# Decision days where months run short: 29 Feb of a leap year and 31 Aug, under either national regime.
DECISION_DAYS = (date(2026, 3, 2), date(2028, 2, 29), date(2026, 8, 31))
WINDOW = timedelta(days=92)


async def test_wg_art_7_the_portal_scope_in_sql_agrees_with_is_published(api: Api) -> None:
    """Every type and severity, every status, with and without a window (and SH art. 5(2)'s harm exception), on
    each boundary day of each default window: the SQL scope lists and counts exactly the records
    ``allows_record`` admits, and those are exactly the ones ``domain.publicity`` says are published."""
    org = await factories.organization(api.engine)
    ids: list[int] = []
    for decided in DECISION_DAYS:
        for type_ in RecordType:
            severities = list(Severity) if CATEGORY_OF[type_] is RecordCategory.DISHONESTY else [None]
            for severity in severities:
                for status in (RecordStatus.ACTIVE, RecordStatus.UNDER_OBJECTION, RecordStatus.REPAIRED):
                    for until, details in ((decided + WINDOW, {}), (None, {}), (None, {HARM_ELIMINATED: True})):
                        ids.append(
                            await factories.record(
                                api.engine,
                                org["id"],
                                type_,
                                severity=severity.value if severity else None,
                                decided_on=decided,
                                publicity_until=until,
                                status=status.value,
                                details=details,
                            )
                        )
    async with api.engine.connect() as conn:
        rows = await record_store.by_ids(conn, ids)
        days = {d - timedelta(days=1) for d in DECISION_DAYS} | set(DECISION_DAYS)
        for decided in DECISION_DAYS:
            for months in (12, 36):
                end = add_months(decided, months)
                days |= {end, end + timedelta(days=1)}
            days |= {decided + WINDOW, decided + WINDOW + timedelta(days=1)}
        for day in sorted(days):
            rules = RowRules(rows=Rows.PUBLIC, today=day)
            key = RecordPageKey(
                category=None, include_inactive=True, window=Window(size=10_000), scope=rules.record_scope
            )
            page = (await record_store.pages_by_subject(conn, [org["id"]], key))[org["id"]]
            listed = {r.id for r in page.rows}
            admitted = {r.id for r in rows.values() if rules.allows_record(r, subject_allowed=True)}
            published = {
                r.id
                for r in rows.values()
                if is_published(
                    r.status,
                    r.decided_on,
                    publication_end(
                        RecordType(r.type),
                        Severity(r.severity) if r.severity else None,
                        r.decided_on,
                        r.publicity_until,
                        r.details,
                    ),
                    day,
                )
            }
            assert listed == admitted == published, day
            assert page.total == len(listed), day
