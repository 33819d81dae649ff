"""The compiled-read lane (api/fastlane.py) answers as the middleware chain would: the same body, the same headers,
the same request id; and whatever it does not answer reaches the chain intact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from api.settings import Settings
from store.db import bureau_today
from tests import factories
from tests.api.test_compiled import SINGLE_CHECK, last_audit
from tests.conftest import Api, count_statements, running_app
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT

ORIGIN = "https://procurement.example.gov.cn"
SECURITY_HEADERS = ("content-type", "x-content-type-options", "cache-control")


@pytest.fixture
async def pair(settings: Settings, database_url: str) -> AsyncIterator[tuple[Api, Api]]:
    quiet = settings.model_copy(update={"recompute_drain_seconds": 0, "cors_origins": (ORIGIN,)})
    async with running_app(quiet, database_url) as compiled:
        plain = quiet.model_copy(update={"compiled_reads": False})
        async with running_app(plain, database_url) as resolvers:
            yield compiled, resolvers


async def listed(api: Api) -> str:
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(uscc, bureau_today() - timedelta(days=5))]})
    return uscc


async def test_the_lane_answers_with_the_chains_headers_and_request_id(
    pair: tuple[Api, Api], caplog: pytest.LogCaptureFixture
) -> None:
    compiled, resolvers = pair
    uscc = await listed(compiled)
    token = await compiled.token("procurement")
    headers = {"X-Request-ID": "req-lane-1"}
    with count_statements(compiled.engine) as general:
        ours = await compiled.post(SINGLE_CHECK, {"u": uscc}, token=token, headers=headers)
    assert general.excluding_audit() == []  # answered by the plan, not by the resolvers
    theirs = await resolvers.post(SINGLE_CHECK, {"u": uscc}, token=token, headers=headers)
    assert ours.status_code == theirs.status_code == 200
    assert ours.json() == theirs.json()
    for name in SECURITY_HEADERS:
        assert ours.headers[name] == theirs.headers[name], name
    assert ours.headers["x-request-id"] == "req-lane-1"
    assert (await last_audit(compiled))["operation"] == "Check"
    access = [r.msg for r in caplog.records if r.name == "hrss_credit.access" and isinstance(r.msg, dict)]
    lines = [m for m in access if m.get("request_id") == "req-lane-1"]
    # One access line from each app, the same in both.
    assert [(m["path"], m["status"], m["client_id"]) for m in lines] == [("/graphql", 200, "procurement")] * 2


async def test_a_generated_request_id_is_returned_and_audited(pair: tuple[Api, Api]) -> None:
    compiled, _ = pair
    uscc = await listed(compiled)
    token = await compiled.token("procurement")
    answer = await compiled.post(SINGLE_CHECK, {"u": uscc}, token=token)
    request_id = answer.headers["x-request-id"]
    assert len(request_id) == 32
    unknown = await compiled.post(SINGLE_CHECK, {"u": factories.new_uscc()}, token=token)
    # An unknown subject goes on to the chain, which answers it with the id the lane gave.
    assert unknown.json()["data"]["subject"] is None
    assert len(unknown.headers["x-request-id"]) == 32 and unknown.headers["x-request-id"] != request_id


async def test_a_browser_request_gets_its_cors_headers(pair: tuple[Api, Api]) -> None:
    compiled, resolvers = pair
    uscc = await listed(compiled)
    token = await compiled.token("procurement")
    ours = await compiled.post(SINGLE_CHECK, {"u": uscc}, token=token, headers={"Origin": ORIGIN})
    theirs = await resolvers.post(SINGLE_CHECK, {"u": uscc}, token=token, headers={"Origin": ORIGIN})
    assert ours.headers["access-control-allow-origin"] == ORIGIN
    assert ours.json() == theirs.json()


@pytest.mark.parametrize(
    ("authorization", "status", "challenge"),
    [
        (None, 401, 'Bearer realm="hrss-credit"'),
        ("Bearer not-a-token", 401, 'error="invalid_token"'),
        ("Basic dXNlcjpwYXNz", 401, 'Bearer realm="hrss-credit"'),
    ],
)
async def test_requests_without_a_valid_token_get_the_chains_challenge(
    pair: tuple[Api, Api], authorization: str | None, status: int, challenge: str
) -> None:
    compiled, _ = pair
    headers = {"Authorization": authorization} if authorization else {}
    answer = await compiled.client.post(
        "/graphql", json={"query": SINGLE_CHECK, "variables": {"u": factories.new_uscc()}}, headers=headers
    )
    assert answer.status_code == status
    assert challenge in answer.headers["www-authenticate"]
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_refused_bodies_reach_the_chain_intact(pair: tuple[Api, Api]) -> None:
    compiled, resolvers = pair
    token = await compiled.token("procurement")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in (b"{not json", b"[1, 2]", b'{"query": "{ __typename }"}'):
        ours = await compiled.client.post("/graphql", content=body, headers=auth)
        theirs = await resolvers.client.post("/graphql", content=body, headers=auth)
        assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json()), body
    too_large = b'{"query": "' + b" " * (compiled.app.state.settings.max_body_bytes + 10) + b'"}'
    refused = await compiled.client.post("/graphql", content=too_large, headers=auth)
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    bad_purpose = await compiled.post(
        SINGLE_CHECK, {"u": factories.new_uscc()}, token=token, headers={"X-Purpose": "%00"}
    )
    assert bad_purpose.status_code == 400
    assert bad_purpose.json()["errors"][0]["extensions"]["field"] == "X-Purpose"
