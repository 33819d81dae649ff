"""Automatic persisted queries (the Apollo protocol) and trusted documents, through the real app and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from api.settings import Settings
from services import documents
from store.db import bureau_today
from store.tables import audit_log, persisted_documents
from tests import factories
from tests.api.test_subscriptions import _token, api_process
from tests.conftest import Api, count_statements, running_app
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT

CHECK = """query Check($u: String!) { subject(ref: {uscc: $u}) {
  name restrictions(sector: GOVERNMENT_PROCUREMENT) { sector since until } } }"""
GRADE = "query Grade($u: String!) { subject(ref: {uscc: $u}) { name grade { level } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(sha256: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


async def send(api: Api, body: dict[str, Any], client: str = "procurement", **headers: str) -> httpx.Response:
    token = await api.token(client)
    return await api.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}", **headers})


async def listed_subject(api: Api) -> str:
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(uscc, bureau_today() - timedelta(days=5))]})
    return uscc


async def test_an_unknown_hash_answers_persisted_query_not_found(api: Api) -> None:
    response = await send(api, {"extensions": persisted(sha(CHECK)), "variables": {"u": factories.new_uscc()}})
    assert response.status_code == 200
    assert response.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    assert response.headers["cache-control"] == "private, no-cache, must-revalidate"


async def test_a_query_sent_with_its_hash_is_stored_and_then_runs_by_hash(api: Api) -> None:
    uscc = await listed_subject(api)
    variables = {"u": uscc}
    first = await send(api, {"query": CHECK, "variables": variables, "extensions": persisted(sha(CHECK))})
    assert first.status_code == 200, first.text
    async with api.engine.connect() as conn:
        stored = (await conn.execute(sa.select(persisted_documents.c.document))).scalars().all()
    assert stored == [CHECK]
    again = await send(api, {"variables": variables, "extensions": persisted(sha(CHECK))})
    assert again.status_code == 200 and again.json() == first.json()
    assert again.json()["data"]["subject"]["restrictions"][0]["sector"] == "GOVERNMENT_PROCUREMENT"


async def test_the_store_is_shared_by_every_api_process(settings: Settings, database_url: str) -> None:
    async with running_app(settings, database_url) as one, running_app(settings, database_url) as other:
        uscc = await listed_subject(one)
        body = {"query": CHECK, "variables": {"u": uscc}, "extensions": persisted(sha(CHECK))}
        assert (await send(one, body)).status_code == 200
        by_hash = await send(other, {"variables": {"u": uscc}, "extensions": persisted(sha(CHECK))})
        assert by_hash.json()["data"]["subject"]["restrictions"], by_hash.text


async def test_a_hash_that_is_not_the_querys_is_refused(api: Api) -> None:
    response = await send(api, {"query": CHECK, "variables": {"u": "x"}, "extensions": persisted(sha(GRADE))})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"] == "provided sha does not match query" and error["extensions"]["code"] == "BAD_REQUEST"
    async with api.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(persisted_documents))).scalar() == 0


async def test_a_malformed_persisted_query_is_refused_naming_it(api: Api) -> None:
    version = await send(api, {"extensions": persisted(sha(CHECK), version=2)})
    assert version.status_code == 400 and "version must be 1" in version.json()["errors"][0]["message"]
    short = await send(api, {"extensions": persisted("abc")})
    assert short.status_code == 400
    assert short.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "field": "extensions.persistedQuery"}


async def test_a_document_that_does_not_validate_is_not_stored(api: Api) -> None:
    # procurement's schema has no records: the document fails validation, and no hash then names it.
    query = '{ subject(ref: {uscc: "x"}) { records { type } } }'
    response = await send(api, {"query": query, "extensions": persisted(sha(query))})
    assert response.json()["errors"][0]["message"].startswith("Cannot query field 'records'")
    again = await send(api, {"extensions": persisted(sha(query))})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_persisted_query_runs_over_get(api: Api) -> None:
    uscc = await listed_subject(api)
    token = await api.token("procurement")
    auth = {"Authorization": f"Bearer {token}"}
    params = {
        "variables": orjson.dumps({"u": uscc}).decode(),
        "extensions": orjson.dumps(persisted(sha(CHECK))).decode(),
    }
    unknown = await api.client.get("/graphql", params=params, headers=auth)
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await api.client.get("/graphql", params={**params, "query": CHECK}, headers=auth)
    assert registered.status_code == 200, registered.text
    by_hash = await api.client.get("/graphql", params=params, headers=auth)
    assert by_hash.status_code == 200 and by_hash.json() == registered.json()
    assert by_hash.json()["data"]["subject"]["restrictions"]


async def test_a_persisted_single_check_is_answered_by_the_compiled_lane(settings: Settings, database_url: str) -> None:
    one = settings.model_copy(update={"recompute_drain_seconds": 0, "pool_size": 1})
    async with running_app(one, database_url) as api:
        uscc = await listed_subject(api)
        body = {"query": CHECK, "variables": {"u": uscc}, "extensions": persisted(sha(CHECK))}
        assert (await send(api, body)).status_code == 200
        pool = api.app.state.graphql.compiled_pool
        queries: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: queries.append(record.query))
        await send(api, {"variables": {"u": uscc}, "extensions": persisted(sha(CHECK))})  # prepares the statement
        queries.clear()
        with count_statements(api.engine) as general:
            response = await send(api, {"variables": {"u": uscc}, "extensions": persisted(sha(CHECK))})
        assert response.json()["data"]["subject"]["restrictions"][0]["sector"] == "GOVERNMENT_PROCUREMENT"
        # No look-up of the hash: this process knows it; one prepared statement reads, the group writer audits.
        assert len(queries) == 1 and "persisted_documents" not in queries[0], queries
        assert general.excluding_audit() == [], general.statements


async def _trust(api: Api, text: str, audience: str) -> list[documents.Registered]:
    schema = api.app.state.schemas.get(*_audience(api, audience))._schema
    async with api.engine.begin() as conn:
        return await documents.register(conn, documents.operations_of(text, schema), audience=audience)


def _audience(api: Api, name: str) -> tuple[Any, frozenset[str]]:
    audience = api.app.state.schemas.policy.audiences[name]
    return audience, audience.scopes


async def test_trusted_mode_runs_only_what_is_registered_for_the_callers_audience(
    settings: Settings, database_url: str
) -> None:
    trusted = settings.model_copy(update={"trusted_documents": True})
    async with running_app(trusted, database_url) as api:
        async with running_app(settings, database_url) as open_api:
            uscc = await listed_subject(open_api)
        [registered] = await _trust(api, CHECK, "procurement")
        assert registered.sha256 == sha(registered.document) and registered.name == "Check"
        variables = {"u": uscc}
        in_full = await send(api, {"query": CHECK, "variables": variables})
        assert in_full.status_code == 200 and in_full.json()["data"]["subject"]["restrictions"], in_full.text
        by_hash = await send(api, {"variables": variables, "extensions": persisted(registered.sha256)})
        assert by_hash.json() == in_full.json()
        other = await send(api, {"query": GRADE, "variables": variables})
        assert other.status_code == 403
        assert other.json()["errors"][0]["extensions"] == {"code": "UNTRUSTED_DOCUMENT", "sha256Hash": sha(GRADE)}
        # Registered for procurement, refused for finance, sent in full or by hash.
        finance = await send(api, {"query": CHECK, "variables": variables}, client="finance")
        assert finance.status_code == 403 and "audience finance" in finance.json()["errors"][0]["message"]
        hashed = await send(api, {"variables": variables, "extensions": persisted(registered.sha256)}, "finance")
        assert hashed.json()["errors"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"
        # A client cannot register a document itself.
        sent = await send(api, {"query": GRADE, "variables": variables, "extensions": persisted(sha(GRADE))})
        assert sent.status_code == 403
        async with api.engine.connect() as conn:
            stored = (await conn.execute(sa.select(persisted_documents.c.sha256))).scalars().all()
            refusals = (
                await conn.execute(
                    sa.select(audit_log.c.audience, audit_log.c.operation, audit_log.c.fields_refused).where(
                        audit_log.c.outcome == "refused: untrusted document"
                    )
                )
            ).all()
    assert stored == [registered.sha256]
    assert ("finance", "anonymous", [f"document:{registered.sha256}"]) in [tuple(r) for r in refusals]
    assert len(refusals) == 4


async def test_trusted_mode_answers_a_trusted_check_on_the_compiled_lane(settings: Settings, database_url: str) -> None:
    trusted = settings.model_copy(update={"trusted_documents": True, "recompute_drain_seconds": 0})
    async with running_app(trusted, database_url) as api:
        async with running_app(settings, database_url) as open_api:
            uscc = await listed_subject(open_api)
        await _trust(api, CHECK, "procurement")
        assert (await send(api, {"query": CHECK, "variables": {"u": uscc}})).status_code == 200
        with count_statements(api.engine) as general:
            response = await send(api, {"query": CHECK, "variables": {"u": uscc}})
        assert response.json()["data"]["subject"]["restrictions"]
        assert general.excluding_audit() == [], general.statements


async def _over_the_websocket(base: str, token: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each subscribe message's first answer, over graphql-transport-ws on a real ``serve``."""
    from websockets.asyncio.client import connect

    answers = []
    async with connect(base.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}).decode()
        )
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        for message in messages:
            await ws.send(orjson.dumps(message).decode())
            answers.append(orjson.loads(await asyncio.wait_for(ws.recv(), 10)))
    return answers


async def test_trusted_mode_holds_over_the_websocket(
    settings: Settings, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(settings, database_url) as api:
        uscc = await listed_subject(api)
        [registered] = await _trust(api, CHECK, "procurement")
    monkeypatch.setenv("HRSS_TRUSTED_DOCUMENTS", "true")
    by_hash = {"variables": {"u": uscc}, "extensions": persisted(registered.sha256)}
    with api_process(database_url, tmp_path) as base:
        token = await asyncio.to_thread(_token, base, "procurement")
        answers = await _over_the_websocket(
            base,
            token,
            [
                {"id": "1", "type": "subscribe", "payload": {"query": GRADE, "variables": {"u": uscc}}},
                {"id": "2", "type": "subscribe", "payload": by_hash},
            ],
        )
    assert answers[0]["type"] == "error" and answers[0]["id"] == "1"
    assert answers[0]["payload"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"
    assert answers[1]["type"] == "next" and answers[1]["payload"]["data"]["subject"]["restrictions"], answers[1]
