"""``hrss-credit outbox push`` and ``export`` against a real HTTP receiver that deduplicates by Idempotency-Key.

The receiver stands in for the city credit platform: it records every request it receives, applies an event the
first time its key arrives and acknowledges duplicates without applying them again. It can be told to fail the
next requests, to refuse one event for good, to answer slowly, or to stall right after applying an event.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from api.outbox_cli import outbox_app
from api.relay import backoff_delay, classify
from domain.periods import add_months
from domain.taxonomy import RecordType
from store import outbox
from store.db import bureau_today, create_engine
from store.tables import credit_records
from store.tables import outbox as outbox_table
from store.tables import subjects as subjects_table
from tests import factories
from tests.conftest import TEST_PII_KEY, Api, leaked_id_numbers

runner = CliRunner()


class Receiver:
    """The platform's side: what it received (every request) and what it applied (each event once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[str] = []  # Idempotency-Key of every request, in arrival order
        self.applied: list[str] = []  # event ids, in the order they were first applied
        self.bodies: dict[str, dict[str, Any]] = {}
        self.key_mismatches = 0
        self.fail_next: list[int] = []  # statuses for the next requests (not applied)
        self.slow_next: list[float] = []  # extra seconds for the next requests (applied, then answered late)
        self.refuse: dict[str, int] = {}  # event id -> status it is always refused with
        self.delay = 0.0  # seconds before each answer, after applying
        self.stall_at: int | None = None  # stall after applying the n-th distinct event, until released
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/credit-events"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _handle(self, key: str, body: dict[str, Any]) -> tuple[int, float, bool]:
        with self.lock:
            self.received.append(key)
            if key != body.get("event_id"):
                self.key_mismatches += 1
            if self.fail_next:
                return self.fail_next.pop(0), 0.0, False
            if key in self.refuse:
                return self.refuse[key], 0.0, False
            extra = self.slow_next.pop(0) if self.slow_next else 0.0
            if key in self.bodies:
                return 200, self.delay + extra, False
            self.bodies[key] = body
            self.applied.append(key)
            stall = self.stall_at is not None and len(self.applied) == self.stall_at
            return 200, self.delay + extra, stall

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, delay, stall = receiver._handle(self.headers.get("Idempotency-Key", ""), body)
                if delay:
                    time.sleep(delay)
                if stall:
                    receiver.stalled.set()
                    receiver.release.wait(20)
                answer = b'{"ok": true}' if status < 300 else b'{"error": "no"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def duplicates(self) -> int:
        return len(self.received) - len(set(self.received))

    def first_received_order(self) -> list[str]:
        return list(dict.fromkeys(self.received))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.release.set()
    r.server.shutdown()
    r.server.server_close()
    r.thread.join(5)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=3, max_overflow=0)
    yield engine
    await engine.dispose()


async def insert_events(engine: AsyncEngine, count: int, per_transaction: int = 50) -> list[str]:
    """Events for ``count`` new records of one organization (aggregate ids 1 to ``count`` in a fresh database),
    committed ``per_transaction`` at a time; their event ids in outbox order."""
    org = await factories.organization(engine)
    records = [await factories.record(engine, org["id"], RecordType.INTERVIEW) for _ in range(count)]
    for start in range(0, count, per_transaction):
        async with engine.begin() as conn:
            events = [
                ("record.created", n, {"record_id": n, "subject_id": org["id"], "type": "INTERVIEW"})
                for n in records[start : start + per_transaction]
            ]
            await outbox.record_events(conn, events)
    return await event_ids(engine)


async def event_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id))
        return [str(e) for e in rows.scalars()]


async def rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = sa.select(
            outbox_table.c.event_id, outbox_table.c.pushed_at, outbox_table.c.attempts, outbox_table.c.last_error
        ).order_by(outbox_table.c.id)
        return list((await conn.execute(query)).all())


def env_for(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "HRSS_DATA_DIR": str(tmp_path), "HRSS_PII_KEY": TEST_PII_KEY}


async def invoke(args: list[str], database_url: str, tmp_path: Path) -> Result:
    env = env_for(database_url, tmp_path)
    return await asyncio.to_thread(runner.invoke, outbox_app, args, env=env)


def push_args(receiver: Receiver, *extra: str) -> list[str]:
    return ["push", "--url", receiver.url, "--backoff", "0.02", "--backoff-max", "0.5", *extra]


async def wait_for(condition: Any, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# -- pure parts ------------------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    assert [backoff_delay(n, 0.1, 10, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert [backoff_delay(n, 0.1, 10, rng=lambda: 0.0) for n in (1, 2, 3)] == pytest.approx([0.05, 0.1, 0.2])
    assert backoff_delay(30, 0.1, 10, rng=lambda: 1.0) == 10
    assert backoff_delay(10_000, 0.1, 10, rng=lambda: 0.5) == pytest.approx(7.5)


def test_statuses_are_delivered_retryable_or_permanent() -> None:
    def outcome(status: int, **headers: str) -> Any:
        return classify(httpx.Response(status, headers=headers, text="detail"))

    assert outcome(200).delivered and outcome(204).delivered
    for status in (500, 502, 503, 504, 408, 409, 429):
        assert not outcome(status).delivered and not outcome(status).permanent, status
    for status in (400, 401, 403, 404, 410, 422, 301):
        assert outcome(status).permanent, status
    assert outcome(429, **{"Retry-After": "3"}).retry_after == 3.0
    assert outcome(422).error == "HTTP 422 Unprocessable Entity: detail"


# -- push ------------------------------------------------------------------------------------------------------


async def test_push_delivers_every_event_once_in_outbox_order(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 25, per_transaction=10)
    result = await invoke(push_args(receiver), database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert f"delivered 25 events to {receiver.url} (0 failed attempts); 0 pending" in result.output
    assert receiver.applied == ids and receiver.received == ids and receiver.key_mismatches == 0
    first = receiver.bodies[ids[0]]
    assert set(first) == {"event_id", "topic", "aggregate_id", "payload", "created_at"}
    assert first["topic"] == "record.created" and first["aggregate_id"] == 1
    assert {k: first["payload"][k] for k in ("record_id", "subject_id", "type")} == {
        "record_id": 1,
        "subject_id": first["payload"]["subject"]["id"],
        "type": "INTERVIEW",
    }
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    assert all(r.pushed_at is not None and r.attempts == 1 and r.last_error is None for r in await rows(engine))

    again = await invoke(push_args(receiver), database_url, tmp_path)
    assert again.exit_code == 0 and "delivered 0 events" in again.output
    assert len(receiver.received) == 25


async def test_push_retries_5xx_and_retryable_4xx_with_backoff_then_succeeds(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 3)
    receiver.fail_next = [500, 503, 429, 409]
    started = time.monotonic()
    result = await invoke(push_args(receiver, "--backoff", "0.03"), database_url, tmp_path)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    # Four pauses of at least half of 0.03, 0.06, 0.12, 0.24 (equal jitter).
    assert elapsed >= 0.225
    assert "HTTP 500 Internal Server Error" in result.output and "attempt 1 of 10, retrying in" in result.output
    assert "attempt 4 of 10" in result.output and "(4 failed attempts)" in result.output
    assert receiver.applied == ids
    first, *rest = await rows(engine)
    assert first.pushed_at is not None and first.attempts == 5 and "HTTP 409" in (first.last_error or "")
    assert all(r.attempts == 1 and r.pushed_at is not None for r in rest)


async def test_push_retries_a_timeout_and_the_receiver_drops_the_duplicate(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 2)
    receiver.slow_next = [0.4]  # applied, but answered after the relay gave up waiting
    result = await invoke(push_args(receiver, "--timeout", "0.15"), database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert receiver.received[:2] == [ids[0], ids[0]] and receiver.duplicates() == 1
    assert receiver.applied == ids
    first = (await rows(engine))[0]
    assert first.attempts == 2 and first.last_error == "timeout (ReadTimeout)"


async def test_push_stops_after_max_attempts_without_going_further(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    await insert_events(engine, 3)
    receiver.fail_next = [502] * 10
    result = await invoke(push_args(receiver, "--max-attempts", "3"), database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert "still failing after 3 attempts: HTTP 502 Bad Gateway" in result.output
    assert receiver.applied == [] and len(receiver.received) == 3
    first, *rest = await rows(engine)
    assert first.pushed_at is None and first.attempts == 3 and (first.last_error or "").startswith("HTTP 502")
    assert all(r.attempts == 0 and r.pushed_at is None for r in rest)

    # Nobody listening: connection errors are retried as well.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    result = await invoke(
        ["push", "--url", dead_url, "--backoff", "0.01", "--max-attempts", "2"], database_url, tmp_path
    )
    assert result.exit_code == 1 and "still failing after 2 attempts: connection error" in result.output
    assert (await rows(engine))[0].attempts == 5


async def test_a_permanent_refusal_stops_the_relay_at_that_event(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 6)
    receiver.refuse[ids[2]] = 422
    result = await invoke(push_args(receiver), database_url, tmp_path)
    assert result.exit_code == 1, result.output
    assert "error:" in result.output and f"event_id {ids[2]}) refused permanently: HTTP 422" in result.output
    assert "no later event overtakes it" in result.output
    assert receiver.applied == ids[:2] and receiver.received == ids[:3]  # nothing after it was even sent
    state = await rows(engine)
    assert [r.pushed_at is not None for r in state] == [True, True, False, False, False, False]
    assert state[2].attempts == 1 and (state[2].last_error or "").startswith("HTTP 422 Unprocessable Entity")
    assert all(r.attempts == 0 for r in state[3:])

    # Once the platform accepts it, the next run starts at that very event.
    del receiver.refuse[ids[2]]
    result = await invoke(push_args(receiver), database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert receiver.applied == ids and receiver.first_received_order() == ids


async def test_an_event_committed_late_with_a_lower_id_is_not_overtaken(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    org = await factories.organization(engine)
    assert [await factories.record(engine, org["id"]) for _ in range(2)] == [1, 2]
    async with engine.connect() as slow_writer:
        await slow_writer.begin()
        await outbox.record_events(slow_writer, [("record.created", 1, {"record_id": 1})])  # draws the lower id
        async with engine.begin() as conn:
            await outbox.record_events(conn, [("record.created", 2, {"record_id": 2})])
        relay = asyncio.create_task(invoke(push_args(receiver), database_url, tmp_path))
        await asyncio.sleep(0.4)
        assert receiver.received == []  # the relay waits for the open writer instead of sending id 2 first
        await slow_writer.commit()
    result = await relay
    assert result.exit_code == 0, result.output
    assert receiver.applied == await event_ids(engine)
    assert [receiver.bodies[e]["aggregate_id"] for e in receiver.applied] == [1, 2]


def _relay_process(
    receiver: Receiver, database_url: str, tmp_path: Path, name: str, *extra: str
) -> subprocess.Popen[bytes]:
    command = Path(sys.executable).with_name("hrss-credit")
    args = [str(command), "outbox", "push", "--url", receiver.url, "--backoff", "0.02", *extra]
    env = {**os.environ, **env_for(database_url, tmp_path)}
    with (tmp_path / f"{name}.out").open("wb") as out, (tmp_path / f"{name}.err").open("wb") as errors:
        return subprocess.Popen(args, env=env, stdout=out, stderr=errors)  # noqa: S603 (our own command)


async def _lock_released(engine: AsyncEngine) -> None:
    async def held() -> bool:
        async with engine.connect() as conn:
            return await outbox.relay_lock_holder(conn) is not None

    deadline = time.monotonic() + 10
    while await held():
        assert time.monotonic() < deadline, "the killed relay's lock was not released"
        await asyncio.sleep(0.02)


async def _pushed_prefix(engine: AsyncEngine, ids: list[str]) -> int:
    state = await rows(engine)
    pushed = [r.pushed_at is not None for r in state]
    count = sum(pushed)
    assert pushed == [True] * count + [False] * (len(ids) - count), "pushed events are not a prefix of the outbox"
    return count


async def test_crash_a_killed_relay_loses_nothing_and_every_event_is_applied_once_in_order(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 200)
    receiver.delay = 0.002  # the platform is slow: the relay is usually waiting for an answer when it dies
    kills = 0
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # Run 1: killed somewhere in the middle.
        processes.append(
            _relay_process(receiver, database_url, tmp_path, "run1", "--follow", "--poll-interval", "0.05")
        )
        await wait_for(lambda: len(receiver.applied) >= 50, what="the first run to deliver 50 events")
        processes[-1].send_signal(signal.SIGKILL)
        assert processes[-1].wait(10) == -signal.SIGKILL
        kills += 1
        await _lock_released(engine)
        pushed = await _pushed_prefix(engine, ids)
        assert pushed <= len(receiver.applied) <= pushed + 1  # at most the event in flight is unrecorded
        after_first = (pushed, len(receiver.applied))

        # Run 2: killed right after the platform applied an event and before the relay heard back.
        receiver.stall_at = 130
        processes.append(
            _relay_process(receiver, database_url, tmp_path, "run2", "--follow", "--poll-interval", "0.05")
        )
        await wait_for(receiver.stalled.is_set, what="the receiver to stall on event 130")
        processes[-1].send_signal(signal.SIGKILL)
        assert processes[-1].wait(10) == -signal.SIGKILL
        kills += 1
        receiver.release.set()
        await _lock_released(engine)
        pushed = await _pushed_prefix(engine, ids)
        assert len(receiver.applied) == 130 and pushed == 129  # applied, never acknowledged
        after_second = (pushed, len(receiver.applied))

        # Run 3: drains the rest and exits.
        processes.append(_relay_process(receiver, database_url, tmp_path, "run3"))  # --once by default
        assert processes[-1].wait(30) == 0, (tmp_path / "run3.err").read_text()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    assert set(receiver.received) == set(ids)  # nothing lost
    assert receiver.applied == ids  # each applied exactly once, first application in outbox order
    assert receiver.first_received_order() == ids
    assert receiver.duplicates() >= 1 and receiver.key_mismatches == 0
    assert all(r.pushed_at is not None for r in await rows(engine))
    print(  # figures for the report: pytest -s
        f"\ncrash test: {len(ids)} events, {kills} SIGKILLs (pushed/applied at kill 1: {after_first}, "
        f"at kill 2: {after_second}), {len(receiver.received)} requests received, "
        f"{receiver.duplicates()} duplicates, {len(receiver.applied)} applied once; "
        f"last run: {(tmp_path / 'run3.err').read_text().strip()}"
    )


async def test_a_second_relay_exits_while_the_first_holds_the_lock(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    ids = await insert_events(engine, 3)
    first = _relay_process(receiver, database_url, tmp_path, "first", "--follow", "--poll-interval", "0.05")
    try:
        await wait_for(lambda: receiver.applied == ids, what="the first relay to deliver")
        second = await invoke(push_args(receiver), database_url, tmp_path)
        assert second.exit_code == 3, second.output
        assert "another outbox relay is running: the relay lock is held by PostgreSQL backend" in second.output
        assert f"(hrss-credit outbox push {first.pid})" in second.output
        first.send_signal(signal.SIGTERM)  # a graceful stop
        assert first.wait(10) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert "stopped by signal: delivered 3 events" in (tmp_path / "first.err").read_text()
    third = await invoke(push_args(receiver), database_url, tmp_path)
    assert third.exit_code == 0 and "delivered 0 events" in third.output
    assert receiver.duplicates() == 0


# -- export ----------------------------------------------------------------------------------------------------


async def test_export_writes_json_lines_in_outbox_order(engine: AsyncEngine, database_url: str, tmp_path: Path) -> None:
    ids = await insert_events(engine, 5)
    async with engine.begin() as conn:
        pushed = (await conn.execute(sa.select(outbox_table.c.id).order_by(outbox_table.c.id).limit(2))).scalars()
        await outbox.mark_pushed(conn, list(pushed))

    result = await invoke(["export"], database_url, tmp_path)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["event_id"] for line in lines] == ids
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    assert set(lines[0]) == {
        "id", "event_id", "topic", "aggregate_id", "payload", "created_at", "pushed_at", "attempts", "last_error"
    }  # fmt: skip
    assert lines[0]["pushed_at"] is not None and lines[2]["pushed_at"] is None
    assert uuid.UUID(lines[0]["event_id"]) and lines[0]["payload"]["record_id"] == 1
    assert "exported 5 events" in result.stderr

    pending = await invoke(["export", "--pending-only"], database_url, tmp_path)
    assert [json.loads(line)["event_id"] for line in pending.stdout.splitlines()] == ids[2:]
    assert "exported 3 pending events" in pending.stderr

    target = tmp_path / "outbox.jsonl"
    to_file = await invoke(["export", "--pending-only", "--output", str(target)], database_url, tmp_path)
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert target.read_text(encoding="utf-8") == pending.stdout
    assert [n for n in os.listdir(tmp_path) if "outbox.jsonl" in n] == ["outbox.jsonl"]  # no partial file


async def test_export_writes_a_file_only_its_owner_can_read_from_the_first_byte(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """The file holds the events as the platform receives them, individuals' ID numbers included: it is created
    0600 (not chmod-ed after writing), even under a umask that lets everything through, and an existing file of
    that name is replaced by one of mode 0600."""
    await insert_events(engine, 3)
    fresh, existing = tmp_path / "fresh.jsonl", tmp_path / "existing.jsonl"
    existing.write_text("old\n")
    existing.chmod(0o644)
    previous_umask = os.umask(0)
    try:
        for target in (fresh, existing):
            result = await invoke(["export", "--output", str(target)], database_url, tmp_path)
            assert result.exit_code == 0, result.output
            assert stat.S_IMODE(target.stat().st_mode) == 0o600, oct(target.stat().st_mode)
            assert len(target.read_text(encoding="utf-8").splitlines()) == 3
    finally:
        os.umask(previous_umask)
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith((".jsonl", ".partial"))) == [
        "existing.jsonl",
        "fresh.jsonl",
    ]


# -- what the platform receives (SH art. 7) ---------------------------------------------------------------------

IMPORT = """
mutation ($records: [RecordInput!]!) {
  importRecords(records: $records) { errors { index field message } records { id decisionNumber } }
}
"""
SUBMIT_OBJECTION = 'mutation ($r: ID!) { submitObjection(recordId: $r, reason: "事实有误") { id } }'
DECIDE_OBJECTION = """
mutation ($o: ID!, $c: RecordCorrectionInput) {
  decideObjection(id: $o, correct: true, decision: "核查属实", correction: $c) { status }
}
"""
APPLY_REPAIR = """
mutation ($r: ID!) { applyRepair(recordId: $r, statement: "已纠正失信行为，并公开作出信用承诺。", commitment: true) { id } }
"""
DECIDE_REPAIR = 'mutation ($id: ID!) { decideRepair(id: $id, approve: true, decision: "准予修复") { status } }'
REVOKE_RECORD = 'mutation ($id: ID!) { revokeRecord(id: $id, reason: "决定已被撤销") { status } }'


def _penalty(subject: dict[str, str], name: str, number: str, unit: str, **overrides: Any) -> dict[str, Any]:
    decided = bureau_today() - timedelta(days=200)
    row: dict[str, Any] = {
        "subject": subject,
        "subjectName": name,
        "type": "ADMINISTRATIVE_PENALTY",
        "severity": "GENERAL",
        "title": "一般程序行政处罚：未按时足额支付劳动报酬",
        "decisionNumber": number,
        "sourceUnit": unit,
        "legalBasis": "《劳动保障监察条例》第二十六条",
        "decidedOn": decided.isoformat(),
        "publicityUntil": add_months(decided, 6).isoformat(),
        "correctedOn": (decided + timedelta(days=5)).isoformat(),
        "penaltyFulfilled": True,
    }
    return row | overrides


async def _ok(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = await api.gql(query, variables)
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


async def test_sh_art_7_every_platform_event_names_the_subject_decision_and_unit(
    api: Api, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    """Every topic, for an organization and for an individual, written through the API and delivered by the relay:
    each event names its subject by USCC or by ID number, with the name, and its record's decision number, source
    unit, type and decision day, beside the internal ids it always carried. The outbox never stores the ID number
    in clear: it is decrypted into the event as it leaves."""
    org_uscc, person = factories.new_uscc(), factories.new_id_number()
    subjects = {
        "ORGANIZATION": ({"uscc": org_uscc}, "上海事件测试有限公司", "上海市人力资源和社会保障局执法总队"),
        "INDIVIDUAL": ({"idNumber": person}, "李四", "上海市徐汇区人力资源和社会保障局"),
    }
    rows = []
    for kind, (ref, name, unit) in subjects.items():
        for use in ("correct", "objection-revoke", "repair", "revoke"):
            rows.append(_penalty(ref, name, f"沪人社监罚〔2026〕{kind[:3]}-{use}号", unit))
    imported = (await _ok(api, IMPORT, {"records": rows}))["importRecords"]
    assert imported["errors"] == []
    record_of = {r["decisionNumber"]: r["id"] for r in imported["records"]}
    for kind in subjects:
        number = f"沪人社监罚〔2026〕{kind[:3]}-{{}}号".format
        filed = await _ok(api, SUBMIT_OBJECTION, {"r": record_of[number("correct")]})
        await _ok(api, DECIDE_OBJECTION, {"o": filed["submitObjection"]["id"], "c": {"title": "更正后的标题"}})
        filed = await _ok(api, SUBMIT_OBJECTION, {"r": record_of[number("objection-revoke")]})
        await _ok(api, DECIDE_OBJECTION, {"o": filed["submitObjection"]["id"], "c": {"revoke": True}})
        applied = await _ok(api, APPLY_REPAIR, {"r": record_of[number("repair")]})
        await _ok(api, DECIDE_REPAIR, {"id": applied["applyRepair"]["id"]})
        await _ok(api, REVOKE_RECORD, {"id": record_of[number("revoke")]})

    async with api.engine.connect() as conn:
        stored = [r.payload for r in await conn.execute(sa.select(outbox_table.c.payload))]
        subject_rows = {r.kind: r for r in await conn.execute(sa.select(subjects_table))}
        records = {r.id: r for r in await conn.execute(sa.select(credit_records))}
    assert leaked_id_numbers(json.dumps(stored, ensure_ascii=False)) == []

    result = await invoke(push_args(receiver), database_url, tmp_path)
    assert result.exit_code == 0, result.output
    bodies = [receiver.bodies[key] for key in receiver.applied]
    assert len(bodies) == len(stored) == 8 + 2 * (2 + 2 + 1 + 1)
    expected_subject = {
        "ORGANIZATION": {
            "id": subject_rows["ORGANIZATION"].id,
            "kind": "ORGANIZATION",
            "name": "上海事件测试有限公司",
            "uscc": org_uscc,
        },
        "INDIVIDUAL": {"id": subject_rows["INDIVIDUAL"].id, "kind": "INDIVIDUAL", "name": "李四", "id_number": person},
    }
    kind_of = {row.id: kind for kind, row in subject_rows.items()}
    seen: dict[str, set[str]] = {"ORGANIZATION": set(), "INDIVIDUAL": set()}
    for body in bodies:
        payload = body["payload"]
        record = records[payload["record_id"]]
        kind = kind_of[record.subject_id]
        assert payload["subject"] == expected_subject[kind], body
        assert payload["subject_id"] == record.subject_id  # the internal ids stay for existing consumers
        assert payload["record"] == {
            "id": record.id,
            "version": record.version,
            "type": "ADMINISTRATIVE_PENALTY",
            "decision_number": record.decision_number,
            "source_unit": subjects[kind][2],
            "decided_on": record.decided_on.isoformat(),
        }, body
        seen[kind].add(body["topic"])
    topics = {"record.created", "record.corrected", "record.revoked", "record.repaired", "objection.decided"}
    assert seen == {"ORGANIZATION": topics, "INDIVIDUAL": topics}

    exported = await invoke(["export"], database_url, tmp_path)
    assert [json.loads(line)["payload"] for line in exported.stdout.splitlines()] == [b["payload"] for b in bodies]


async def test_sh_art_7_an_event_is_not_sent_without_the_id_number_that_names_its_individual(
    receiver: Receiver, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    """A relay configured with keys that cannot decrypt the subject's ID number stops before sending the event,
    naming it without the number; with the right key the same event goes out whole."""
    person = await factories.individual(engine)
    record_id = await factories.record(engine, person["id"])
    async with engine.begin() as conn:
        await outbox.record_events(conn, [("record.revoked", record_id, {"record_id": record_id, "status": "REVOKED"})])
    env = env_for(database_url, tmp_path) | {"HRSS_PII_KEY": "another-pii-key-0123456789abcdef0123456789"}
    refused = await asyncio.to_thread(runner.invoke, outbox_app, push_args(receiver), env=env)
    assert refused.exit_code == 1, refused.output
    assert f"names individual subject {person['id']}" in refused.output and "not sent without it" in refused.output
    assert person["id_number"] not in refused.output and receiver.received == []

    result = await invoke(push_args(receiver), database_url, tmp_path)
    assert result.exit_code == 0, result.output
    (body,) = receiver.bodies.values()
    assert body["payload"]["subject"]["id_number"] == person["id_number"]
