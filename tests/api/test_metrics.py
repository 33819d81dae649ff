"""/metrics: requests by bounded operation name, audience, status and lane; the pools; the audit lag; not public."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from api.settings import Settings
from store import audit
from store.db import bureau_today
from tests import factories
from tests.api.test_compiled import SINGLE_CHECK
from tests.conftest import Api, running_app
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)\{(.*)\} (\S+)", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(3))
    return None


async def _scrape(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_compiled_and_general_requests_are_counted_with_bounded_labels(api: Api) -> None:
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(uscc, bureau_today() - timedelta(days=5))]})
    await api.gql(SINGLE_CHECK, {"u": uscc}, as_client="procurement")  # the compiled lane
    await api.gql(SINGLE_CHECK, {"u": uscc}, as_client="procurement")
    made_up = "query Made_up_" + uscc + " { catalogue { __typename } }"
    await api.gql(made_up, as_client="portal")
    await api.gql("{ catalogue { nope } }", as_client="portal")
    text = await _scrape(api)
    counted = "hrss_graphql_requests_total"
    compiled = {"operation": "Check", "audience": "procurement", "status": "200", "lane": "compiled"}
    assert _sample(text, counted, **compiled) == 2
    assert _sample(text, "hrss_graphql_request_duration_seconds_count", **compiled) == 2
    assert _sample(text, counted, operation="other", audience="portal", lane="general") == 1
    assert _sample(text, counted, operation="anonymous", audience="portal", status="200", lane="general") == 1
    # No subject data in any label: the USCC was in a variable and in an operation name.
    assert uscc not in text


async def test_the_pools_and_the_audit_lag_are_reported(api: Api) -> None:
    await api.gql("{ catalogue { __typename } }", as_client="portal")
    text = await _scrape(api)
    assert _sample(text, "hrss_db_pool_connections", pool="sqlalchemy", state="size") is not None
    assert _sample(text, "hrss_db_pool_connections", pool="sqlalchemy", state="checked_out") == 0
    assert _sample(text, "hrss_db_pool_connections", pool="compiled_reads", state="idle") is not None
    assert re.search(r"^hrss_audit_unsealed_entries \d", text, re.M)
    assert re.search(r"^hrss_audit_oldest_unsealed_seconds \d", text, re.M)


async def test_the_lag_counts_the_unsealed_entries_and_the_age_of_the_oldest(api: Api) -> None:
    async with api.engine.connect() as conn, conn.begin():
        await conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, operation, operation_type, outcome)"
                " VALUES (clock_timestamp() - interval '90 seconds', 'test', 'Lagging', 'query', 'ok')"
            )
        )
        entries, oldest = await audit.lag(conn)
        assert entries >= 1
        assert 90 <= oldest < 3600
        await conn.rollback()


async def test_metrics_are_refused_to_a_client_that_is_not_on_loopback(api: Api) -> None:
    transport = httpx.ASGITransport(app=api.app, client=("10.1.2.3", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example") as remote:
        response = await remote.get("/metrics")
    assert response.status_code == 403
    assert "hrss_" not in response.text


@pytest.fixture
async def token_api(settings: Settings, database_url: str) -> AsyncIterator[Api]:
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    async with running_app(guarded, database_url) as app:
        yield app


async def test_with_a_metrics_token_only_its_bearer_may_scrape(token_api: Api) -> None:
    assert (await token_api.client.get("/metrics")).status_code == 401
    wrong = await token_api.client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    right = await token_api.client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert right.status_code == 200
    assert "hrss_db_pool_connections" in right.text
