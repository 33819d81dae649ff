"""restrictionChanged over graphql-transport-ws: two real API processes; a change written through one reaches
a subscriber of the other (PostgreSQL LISTEN/NOTIFY). Tokens are checked at connection_init."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from store.db import bureau_today, create_engine
from store.tables import audit_log
from tests import factories, processes
from tests.conftest import cloned_database
from tests.processes import client_token

PUBLIC_URL = "http://127.0.0.1:8000"  # both processes sit "behind one load balancer": one issuer


def api_process(database_url: str, data_dir: Path) -> AbstractContextManager[str]:
    return processes.api_process(database_url, data_dir, public_url=PUBLIC_URL)


SUBSCRIBE = "subscription ($s: Sector!) { restrictionChanged(sector: $s) { sector restricted subject { name uscc } } }"


def _token(base: str, client: str) -> str:
    return client_token(base, client)


@asynccontextmanager
async def subscription(base: str, token: str, sector: str) -> AsyncIterator[ClientConnection]:
    async with connect(base.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"s": sector}}})
        )
        yield ws


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


def _blacklisting(uscc: str) -> dict[str, Any]:
    decided = bureau_today() - timedelta(days=3)
    return {
        "subject": {"uscc": uscc},
        "subjectName": "上海订阅测试建设有限公司",
        "type": "WAGE_ARREARS_BLACKLIST",
        "severity": "SERIOUS",
        "title": "列入拖欠农民工工资失信联合惩戒对象名单",
        "decisionNumber": f"沪人社黑〔2026〕订{uscc}号",
        "sourceUnit": "上海市人力资源和社会保障局",
        "legalBasis": "《保障农民工工资支付条例》第四十八条",
        "decidedOn": decided.isoformat(),
        "publicityUntil": (decided + timedelta(days=1000)).isoformat(),
    }


async def _blacklist(base: str, admin: str, uscc: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        written = await client.post(
            "/graphql",
            json={
                "query": "mutation ($r: [RecordInput!]!) { importRecords(records: $r) { created errors { message } } }",
                "variables": {"r": [_blacklisting(uscc)]},
            },
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert written.json()["data"]["importRecords"]["created"] == 1, written.text


async def _first_delivery(ws: ClientConnection, base: str, admin: str) -> tuple[dict[str, Any], list[str]]:
    """Blacklist a new subject and wait for the subscription's first message, with the USCCs blacklisted. The
    protocol does not say when a subscription is registered with the process's listener, and a change written
    before then is not heard: each try blacklists one more subject, until one is heard."""
    written: list[str] = []
    for _ in range(20):
        written.append(factories.new_uscc())
        await _blacklist(base, admin, written[-1])
        try:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
        except TimeoutError:
            continue
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return message, written
    raise AssertionError("no change was delivered")


@pytest.fixture(scope="module")
async def module_database(server_url: str, template_db: str) -> AsyncIterator[str]:
    async with cloned_database(server_url, template_db) as url:
        yield url


@pytest.fixture(scope="module")
def two_processes(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("two-processes")
    with api_process(module_database, data_dir) as first, api_process(module_database, data_dir) as second:
        yield first, second


async def test_sh_art_9_1_change_written_through_one_process_reaches_a_subscriber_of_the_other(
    two_processes: tuple[str, str],
) -> None:
    first, second = two_processes
    async with subscription(
        first, await asyncio.to_thread(_token, first, "procurement"), "GOVERNMENT_PROCUREMENT"
    ) as ws:
        admin = await asyncio.to_thread(_token, second, "admin")
        message, written = await _first_delivery(ws, second, admin)
        assert message["type"] == "next", message
        change = message["payload"]["data"]["restrictionChanged"]
        assert change == {
            "sector": "GOVERNMENT_PROCUREMENT",
            "restricted": True,
            "subject": {"name": "上海订阅测试建设有限公司", "uscc": change["subject"]["uscc"]},
        }
        assert change["subject"]["uscc"] in written


async def test_connection_init_with_a_bad_token_is_refused(two_processes: tuple[str, str]) -> None:
    first, _ = two_processes
    async with connect(first.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer not.a.token"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_sector_outside_the_scopes_is_forbidden(two_processes: tuple[str, str]) -> None:
    first, _ = two_processes
    async with subscription(first, await asyncio.to_thread(_token, first, "procurement"), "TRAVEL") as ws:
        message = await _next(ws)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], message


def _codes(message: dict[str, Any]) -> list[str]:
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors", [])
    return [e["extensions"]["code"] for e in errors]


async def test_an_outage_ends_a_subscription_with_unavailable_and_a_new_one_works_after(
    database_url: str, tmp_path: Path
) -> None:
    """A subscriber must not be left waiting on a feed that silently misses changes: the outage ends its
    subscription with UNAVAILABLE, a subscription asked for during the outage is refused the same way, and one
    asked for once PostgreSQL is back hears changes again, from the same process."""
    from tests.faults import gate_to

    with gate_to(database_url) as gate, api_process(gate.url_for(database_url), tmp_path) as base:
        reader = await asyncio.to_thread(_token, base, "procurement")
        admin = await asyncio.to_thread(_token, base, "admin")
        async with subscription(base, reader, "GOVERNMENT_PROCUREMENT") as ws:
            assert (await _first_delivery(ws, base, admin))[0]["type"] == "next"
            gate.close()
            ended = await _next(ws)
            assert ended.get("type") != "complete" and _codes(ended) == ["UNAVAILABLE"], ended
            assert "SELECT" not in json.dumps(ended)
        async with subscription(base, reader, "GOVERNMENT_PROCUREMENT") as ws:
            refused = await _next(ws)
            assert _codes(refused) == ["UNAVAILABLE"], refused
        gate.open()
        async with subscription(base, reader, "GOVERNMENT_PROCUREMENT") as ws:
            message, written = await _first_delivery(ws, base, admin)
            assert message["type"] == "next", message
            assert message["payload"]["data"]["restrictionChanged"]["subject"]["uscc"] in written


async def test_a_query_over_the_websocket_is_audited_before_its_answer(
    two_processes: tuple[str, str], module_database: str
) -> None:
    first, second = two_processes
    uscc = factories.new_uscc()
    await _blacklist(second, await asyncio.to_thread(_token, second, "admin"), uscc)
    token = await asyncio.to_thread(_token, first, "procurement")
    async with connect(first.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        query = "query OverSocket($u: String!) { subject(ref: {uscc: $u}) { name } }"
        await ws.send(
            json.dumps({"id": "q", "type": "subscribe", "payload": {"query": query, "variables": {"u": uscc}}})
        )
        message = await _next(ws)
        assert message["payload"]["data"]["subject"]["name"] == "上海订阅测试建设有限公司", message
        # The entry is durable once the answer is out: read it at once, through another connection.
        engine = create_engine(module_database)
        try:
            async with engine.connect() as conn:
                entry = (
                    await conn.execute(
                        sa.select(audit_log.c.operation, audit_log.c.audience, audit_log.c.outcome)
                        .where(audit_log.c.operation == "OverSocket")
                        .order_by(audit_log.c.id.desc())
                    )
                ).first()
        finally:
            await engine.dispose()
    assert entry is not None and tuple(entry) == ("OverSocket", "procurement", "ok")
