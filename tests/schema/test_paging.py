"""Relay connections (first/after/last/before, PageInfo) on subjects, records and the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from store import audit
from tests import factories
from tests.conftest import Api
from tests.schema.test_subjects import error_codes

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
SUBJECTS = f"""
query ($first: Int, $after: String, $last: Int, $before: String, $name: String) {{
  subjects(first: $first, after: $after, last: $last, before: $before, nameContains: $name) {{
    {PAGE_INFO} edges {{ cursor node {{ name }} }}
  }}
}}
"""
RECORDS = f"""
query ($ref: SubjectRef!, $first: Int, $after: String, $last: Int, $before: String) {{
  subject(ref: $ref) {{
    records(first: $first, after: $after, last: $last, before: $before) {{
      {PAGE_INFO} edges {{ cursor node {{ decisionNumber }} }}
    }}
  }}
}}
"""
AUDIT = f"""
query ($first: Int, $after: String, $last: Int, $before: String, $actor: String) {{
  auditLog(first: $first, after: $after, last: $last, before: $before, actor: $actor) {{
    {PAGE_INFO} edges {{ cursor node {{ id }} }}
  }}
}}
"""
NAME = "分页测试"

Fetch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def _companies(api: Api, n: int) -> list[str]:
    names = [f"上海{NAME}{i}有限公司" for i in range(n)]
    for name in names:
        await factories.organization(api.engine, name)
    return names


def _subjects(api: Api) -> Fetch:
    async def fetch(args: dict[str, Any]) -> dict[str, Any]:
        body = await api.gql(SUBJECTS, {"name": NAME, **args})
        assert "errors" not in body, body
        conn: dict[str, Any] = body["data"]["subjects"]
        return conn

    return fetch


def _names(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["name"] for e in conn["edges"]]


def _flags(conn: dict[str, Any]) -> tuple[bool, bool]:
    info = conn["pageInfo"]
    return info["hasPreviousPage"], info["hasNextPage"]


async def _walk(fetch: Fetch, size: int, *, backward: bool) -> tuple[list[Any], int]:
    """Every node of the connection, paging with first/after (or last/before), and the number of pages."""
    seen: list[Any] = []
    cursor = None
    pages = 0
    while True:
        args = {"last": size, "before": cursor} if backward else {"first": size, "after": cursor}
        conn = await fetch(args)
        pages += 1
        nodes = [e["node"] for e in conn["edges"]]
        info = conn["pageInfo"]
        if conn["edges"]:
            assert info["startCursor"] == conn["edges"][0]["cursor"]
            assert info["endCursor"] == conn["edges"][-1]["cursor"]
        seen = nodes + seen if backward else seen + nodes
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        # A page reached through a cursor knows that the cursor's own item lies on the other side.
        assert (info["hasNextPage"] if backward else info["hasPreviousPage"]) is (cursor is not None)
        if not more:
            return seen, pages
        cursor = info["startCursor"] if backward else info["endCursor"]


async def test_an_empty_connection_has_no_pages_either_way(api: Api) -> None:
    fetch = _subjects(api)
    for args in ({"first": 5}, {"last": 5}, {}):
        conn = await fetch(args)
        assert conn["edges"] == []
        assert conn["pageInfo"] == {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        }


async def test_exactly_one_page_has_nothing_before_or_after_it(api: Api) -> None:
    names = await _companies(api, 3)
    fetch = _subjects(api)
    for args in ({"first": 3}, {"last": 3}):
        conn = await fetch(args)
        assert _names(conn) == names
        assert _flags(conn) == (False, False)


async def test_last_without_before_is_the_end_of_the_list(api: Api) -> None:
    names = await _companies(api, 5)
    conn = await _subjects(api)({"last": 2})
    assert _names(conn) == names[3:]
    assert _flags(conn) == (True, False)


async def test_after_and_before_together_bound_the_page_on_both_sides(api: Api) -> None:
    names = await _companies(api, 6)
    fetch = _subjects(api)
    cursors = [e["cursor"] for e in (await fetch({"first": 6}))["edges"]]
    between = {"after": cursors[0], "before": cursors[5]}
    forwards = await fetch({"first": 2, **between})
    assert _names(forwards) == names[1:3]
    assert _flags(forwards) == (True, True)
    backwards = await fetch({"last": 2, **between})
    assert _names(backwards) == names[3:5]
    assert _flags(backwards) == (True, True)
    whole = await fetch({"first": 10, **between})
    assert _names(whole) == names[1:5]
    # Nothing between the two cursors is left beyond the page; the items outside them do not count as more.
    assert _flags(whole) == (True, False)


async def test_paging_backwards_gives_the_same_subjects_as_forwards(api: Api) -> None:
    names = await _companies(api, 7)
    fetch = _subjects(api)
    forwards, forward_pages = await _walk(fetch, 3, backward=False)
    backwards, backward_pages = await _walk(fetch, 3, backward=True)
    assert [n["name"] for n in forwards] == [n["name"] for n in backwards] == names
    assert forward_pages == backward_pages == 3


async def test_paging_backwards_gives_the_same_records_as_forwards(api: Api) -> None:
    org = await factories.organization(api.engine)
    for month in (1, 5, 3, 2, 4):
        await factories.record(api.engine, org["id"], decided_on=date(2026, month, 10))

    async def fetch(args: dict[str, Any]) -> dict[str, Any]:
        body = await api.gql(RECORDS, {"ref": {"uscc": org["uscc"]}, **args})
        assert "errors" not in body, body
        conn: dict[str, Any] = body["data"]["subject"]["records"]
        return conn

    forwards, _ = await _walk(fetch, 2, backward=False)
    backwards, _ = await _walk(fetch, 2, backward=True)
    assert len(forwards) == 5 and forwards == backwards


async def test_paging_backwards_gives_the_same_audit_entries_as_forwards(api: Api) -> None:
    org = await factories.organization(api.engine)
    for _ in range(5):
        await api.gql("query ($u: String!) { subject(ref: {uscc: $u}) { name } }", {"u": org["uscc"]})
    async with api.engine.connect() as conn:
        assert await audit.wait_until_sealed(conn, within=10)

    async def fetch(args: dict[str, Any]) -> dict[str, Any]:
        body = await api.gql(AUDIT, {"actor": "admin", **args}, as_client="auditor")
        assert "errors" not in body, body
        conn: dict[str, Any] = body["data"]["auditLog"]
        return conn

    forwards, _ = await _walk(fetch, 2, backward=False)
    backwards, _ = await _walk(fetch, 2, backward=True)
    assert len(forwards) == 5 and forwards == backwards


async def test_first_and_last_together_are_refused(api: Api) -> None:
    body = await api.gql(SUBJECTS, {"first": 2, "last": 2})
    assert error_codes(body) == [("BAD_USER_INPUT", "last")]
    assert "first and last cannot be used together" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"first": -1}, "first"),
        ({"first": 101}, "first"),
        ({"last": -1}, "last"),
        ({"last": 101}, "last"),
        ({"first": 2, "after": "bm90IGEgY3Vyc29y"}, "after"),
        ({"last": 2, "before": "%%%"}, "before"),
        ({"last": 2, "before": "cjoyMDI2LTAxLTAxOjE"}, "before"),  # a record's cursor on the subject list
    ],
)
async def test_bad_page_arguments_are_bad_input_naming_the_argument(api: Api, args: dict[str, Any], field: str) -> None:
    body = await api.gql(SUBJECTS, args)
    assert body["data"] is None
    assert error_codes(body) == [("BAD_USER_INPUT", field)]
    assert field in body["errors"][0]["message"]


async def test_bad_audit_log_page_arguments_name_the_argument(api: Api) -> None:
    for args, field in (({"last": 501}, "last"), ({"last": 1, "before": "eDox"}, "before")):
        body = await api.gql(AUDIT, args, as_client="auditor")
        assert error_codes(body) == [("BAD_USER_INPUT", field)]


async def test_last_costs_what_first_costs(api: Api) -> None:
    for size in ("first", "last"):
        query = f"{{ subjects({size}: 100) {{ edges {{ node {{ records({size}: 100) {{ edges {{ node {{ title }} }} }} }} }} }} }}"
        body = await api.gql(query, as_client="inspection")
        assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT"
