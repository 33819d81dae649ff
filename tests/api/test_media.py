"""GraphQL over HTTP's application/graphql-response+json: chosen from Accept, with the spec's status codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.media import response_media_type
from tests import factories
from tests.conftest import Api, count_statements

NEW = "application/graphql-response+json"
LEGACY = "application/json"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", LEGACY),
        ("*/*", LEGACY),
        (NEW, NEW),
        (f"{NEW}, {LEGACY};q=0.9", NEW),
        (f"{LEGACY}, {NEW};q=0.5", LEGACY),
        (f"{NEW};q=0", LEGACY),
        (f"{NEW};q=bad, {LEGACY}", LEGACY),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON; charset=utf-8", NEW),
    ],
)
def test_the_media_type_follows_the_accept_header(accept: str, chosen: str) -> None:
    assert response_media_type(accept.encode()) == chosen.encode()


async def post(api: Api, body: dict[str, Any], accept: str, client: str = "procurement") -> httpx.Response:
    token = await api.token(client)
    return await api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}", "Accept": accept})


async def test_a_request_that_executes_answers_200_with_the_media_type_asked_for(api: Api) -> None:
    for accept, media in ((NEW, NEW), (LEGACY, LEGACY), ("*/*", LEGACY)):
        response = await post(api, {"query": "{ __typename }"}, accept)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media), accept
        assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_request_that_fails_before_execution_is_400_without_data(api: Api) -> None:
    failing = [
        {"query": "{"},  # does not parse
        {"query": "{ nosuchfield }"},  # does not validate
        {"query": "query ($u: String!) { subject(ref: {uscc: $u}) { name } }", "variables": {"u": None}},  # coercion
    ]
    for body in failing:
        new = await post(api, body, NEW)
        assert new.status_code == 400, (body, new.text)
        assert new.headers["content-type"].startswith(NEW)
        assert "data" not in new.json() and new.json()["errors"], body
        legacy = await post(api, body, LEGACY)
        assert legacy.status_code == 200 and legacy.headers["content-type"].startswith(LEGACY), body
        assert legacy.json()["errors"]


async def test_a_request_that_executes_with_errors_is_200_with_its_data(api: Api) -> None:
    # A malformed USCC is the resolver's BAD_USER_INPUT: the operation ran, its field is null.
    response = await post(api, {"query": '{ subject(ref: {uscc: "bad"}) { name } }'}, NEW)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"subject": None} and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_compiled_lane_answers_with_the_media_type_asked_for(api: Api) -> None:
    org = await factories.organization(api.engine)
    query = "query ($u: String!) { subject(ref: {uscc: $u}) { name restrictions(sector: BIDDING) { since } } }"
    for accept, media in ((NEW, NEW), (LEGACY, LEGACY)):
        await post(api, {"query": query, "variables": {"u": org["uscc"]}}, accept)  # prepares the statement
        with count_statements(api.engine) as general:
            response = await post(api, {"query": query, "variables": {"u": org["uscc"]}}, accept)
        assert general.excluding_audit() == []  # the compiled lane answered
        assert response.status_code == 200 and response.headers["content-type"] == media
        assert response.json()["data"]["subject"]["restrictions"] == []


async def test_an_unknown_persisted_query_is_404_with_the_new_media_type(api: Api) -> None:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}
    new = await post(api, body, NEW)
    assert new.status_code == 404 and new.headers["content-type"].startswith(NEW)
    assert new.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert (await post(api, body, LEGACY)).status_code == 200
