"""Reads from a real streaming replica (store/replicas.py): a primary and a hot standby made by pg_basebackup on
this machine (tests/pg_cluster.py), the real app in front of both.

What only reads is served by the replica while it is within the lag bound; a write, and the reads of the request
that wrote, go to the primary; a replica too far behind is skipped; a replica stopped under load loses its reads to
the primary, none of them failed, and takes them back once it is up again.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from api.settings import Settings
from store import migrations
from store.db import asyncpg_connect_kwargs, bureau_today
from store.replicas import Replica
from tests import factories
from tests.conftest import Api, running_app
from tests.pg_cluster import PgCluster, binaries_missing, streaming_pair
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT
from tests.store.test_pending import SUBJECT as PENDING_SUBJECT
from tests.store.test_pending import blacklisting as pending_blacklisting
from tests.store.test_pending import land

DATABASE = "hrss"
LAG_BOUND = 5.0
CHECK = """query Check($u: String!) { subject(ref: {uscc: $u}) {
  name restrictions(sector: GOVERNMENT_PROCUREMENT) { sector legalBasis { article } } } }"""

pytestmark = pytest.mark.skipif(bool(binaries_missing()), reason=binaries_missing() or "")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PgCluster, PgCluster]]:
    """A primary with the migrated database and a hot standby streaming it, for the whole module. Under a
    directory of its own rather than pytest's: the servers' user must reach it, and pytest keeps its own private."""
    base = Path(tempfile.gettempdir(), f"hrss-replication-{uuid.uuid4().hex[:12]}")  # made and removed by the pair
    with streaming_pair(base) as (primary, standby):

        async def create() -> None:
            conn = await asyncpg.connect(primary.url)
            try:
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await conn.close()

        asyncio.run(create())
        migrations.upgrade(primary.url_for(DATABASE))
        yield primary, standby


async def fetchval(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def until(condition: Callable[[], Awaitable[bool]], *, within: float = 20.0, what: str) -> None:
    """Poll ``condition`` until it holds, or fail after ``within`` seconds saying what did not happen."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def replayed(primary: PgCluster, standby: PgCluster) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    lsn = await fetchval(primary.url, "SELECT pg_current_wal_lsn()::text")

    async def caught_up() -> bool:
        return bool(await fetchval(standby.url, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn))

    await until(caught_up, what=f"the standby replays {lsn}")


@pytest.fixture
async def api(
    servers: tuple[PgCluster, PgCluster], settings: Settings, request: pytest.FixtureRequest
) -> AsyncIterator[Api]:
    primary, standby = servers
    routed = settings.model_copy(
        update={
            "read_database_urls": [standby.url_for(DATABASE)],
            "replica_max_lag_seconds": LAG_BOUND,
            "replica_check_seconds": 0.2,
            "recompute_drain_seconds": 0,
            "compiled_reads": getattr(request, "param", True),
        }
    )
    async with running_app(routed, primary.url_for(DATABASE)) as app:
        await until(lambda: _true(replica_of(app).up), what="the replica is taken into the rotation")
        yield app


async def _true(value: bool) -> bool:
    return value


def listing(uscc: str) -> dict[str, Any]:
    """A wage-arrears listing of ``uscc`` three days ago, under a decision number of its own."""
    return blacklisting(uscc, bureau_today() - timedelta(days=3), number=f"沪人社监〔2026〕黑{uscc[-8:]}号")


async def listed_on_both(api: Api, primary: PgCluster, standby: PgCluster) -> str:
    """A new organization listed through the API (so restricted in procurement), replayed by the standby."""
    listed = factories.new_uscc()
    assert (await api.gql(IMPORT, {"records": [listing(listed)]}))["data"]["importRecords"]["created"] == 1
    await replayed(primary, standby)
    return listed


def replica_of(api: Api) -> Replica:
    replica: Replica = api.app.state.replicas.replicas[0]
    return replica


async def restrictions(api: Api, uscc: str) -> list[dict[str, Any]]:
    response = await api.post(CHECK, {"u": uscc}, as_client="procurement")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    found: list[dict[str, Any]] = body["data"]["subject"]["restrictions"]
    return found


@pytest.mark.parametrize("api", [True, False], ids=["compiled", "resolvers"], indirect=True)
async def test_reads_come_from_the_replica_writes_go_to_the_primary(
    api: Api, servers: tuple[PgCluster, PgCluster]
) -> None:
    primary, standby = servers
    replica = replica_of(api)
    organization = await factories.organization(api.engine, "上海读写分离测试有限公司")
    uscc = organization["uscc"]
    await replayed(primary, standby)
    served = replica.served
    assert await restrictions(api, uscc) == []
    assert replica.served == served + 1, "the check was not answered by the replica"

    await fetchval(standby.url, "SELECT pg_wal_replay_pause()")
    try:
        created = await api.gql(IMPORT, {"records": [listing(uscc)]})
        # The mutation read back what it wrote: on the primary, at once.
        assert created["data"]["importRecords"]["created"] == 1
        assert created["data"]["importRecords"]["records"][0]["subject"]["name"] == "上海读写分离测试有限公司"
        in_force = "SELECT count(*) FROM restrictions x JOIN subjects s ON s.id = x.subject_id WHERE s.uscc = $1"
        assert await fetchval(primary.url_for(DATABASE), in_force, uscc) > 0
        # The replica has not replayed it: within the lag bound a check still reads there, and sees the past.
        assert await fetchval(standby.url_for(DATABASE), in_force, uscc) == 0
        assert await restrictions(api, uscc) == []
        # Past the bound the replica is skipped, and the check reads the primary.
        await until(
            lambda: _true(not replica.up), within=LAG_BOUND * 4, what="the paused replica falls out of rotation"
        )
        assert "over the bound" in replica.reason, replica.reason
        found = await restrictions(api, uscc)
        assert [r["legalBasis"]["article"] for r in found] == ["第四十八条"]
    finally:
        await fetchval(standby.url, "SELECT pg_wal_replay_resume()")
    # Replayed, the replica comes back and answers with the write.
    await until(lambda: _true(replica.up), what="the replica comes back once it has replayed")
    served = replica.served
    assert [r["legalBasis"]["article"] for r in await restrictions(api, uscc)] == ["第四十八条"]
    assert replica.served == served + 1


async def test_a_replica_stopped_and_restarted_under_load_fails_no_request(
    api: Api, servers: tuple[PgCluster, PgCluster]
) -> None:
    primary, standby = servers
    replica = replica_of(api)
    listed = await listed_on_both(api, primary, standby)
    documents = [CHECK, CHECK.replace("{ subject(", "{ __typename subject(")]  # compiled, and the resolvers
    answered = 0
    failures: list[str] = []
    stop = asyncio.Event()

    async def client(n: int) -> None:
        nonlocal answered
        while not stop.is_set():
            response = await api.post(documents[n % 2], {"u": listed}, as_client="procurement")
            body = response.json()
            ok = response.status_code == 200 and "errors" not in body
            if not ok or [r["sector"] for r in body["data"]["subject"]["restrictions"]] != ["GOVERNMENT_PROCUREMENT"]:
                failures.append(f"{response.status_code} {response.text[:200]}")
            answered += 1

    async def progress(by: int) -> Callable[[], Awaitable[bool]]:
        start = answered

        async def done() -> bool:
            return answered >= start + by

        return done

    audited_before = await fetchval(primary.url_for(DATABASE), "SELECT count(*) FROM audit_log")
    clients = [asyncio.create_task(client(n)) for n in range(4)]
    try:
        await until(lambda: _true(replica.served >= 20), what="the replica serves the load")
        await asyncio.to_thread(standby.stop, "immediate")
        await until(lambda: _true(not replica.up), what="the stopped replica leaves the rotation")
        await until(await progress(50), what="requests go on while the replica is down")
        to_primary = api.app.state.replicas.to_primary
        await asyncio.to_thread(standby.start)
        await until(lambda: _true(replica.up), what="the restarted replica comes back")
        served = replica.served
        await until(lambda: _true(replica.served >= served + 20), what="the replica serves again")
    finally:
        stop.set()
        await asyncio.gather(*clients)
    assert failures == [], failures[:5]
    assert api.app.state.replicas.to_primary > to_primary
    # Every answer has its durable entry, written on the primary whichever server read.
    audited = await fetchval(primary.url_for(DATABASE), "SELECT count(*) FROM audit_log") - audited_before
    assert audited >= answered


SCREEN = """query Screen($r: [SubjectRef!]!) { screen(sector: GOVERNMENT_PROCUREMENT, refs: $r) {
  ref found restricted } }"""


async def test_a_screen_read_on_the_replica_has_its_entry_on_the_primary(
    api: Api, servers: tuple[PgCluster, PgCluster]
) -> None:
    primary, standby = servers
    replica = replica_of(api)
    listed = await listed_on_both(api, primary, standby)
    served = replica.served
    refs = [{"uscc": listed}, *({"uscc": factories.new_uscc()} for _ in range(99))]
    body = await api.gql(SCREEN, {"r": refs}, as_client="procurement")
    assert replica.served == served + 1
    results = body["data"]["screen"]
    assert results[0] == {"ref": listed, "found": True, "restricted": True}
    assert not any(r["found"] for r in results[1:])
    subject_id = await fetchval(primary.url_for(DATABASE), "SELECT id FROM subjects WHERE uscc = $1", listed)
    entry = "SELECT subject_ids FROM audit_log WHERE operation = 'Screen' ORDER BY id DESC LIMIT 1"
    assert await fetchval(primary.url_for(DATABASE), entry) == [subject_id]


@pytest.mark.parametrize("api", [False], ids=["resolvers"], indirect=True)
async def test_a_read_that_must_recompute_moves_to_the_primary(api: Api, servers: tuple[PgCluster, PgCluster]) -> None:
    """SH art. 9(1): a blacklisting landed by a bulk import waits in the recompute queue; its first reader,
    though served by a replica, recomputes it on the primary and reads the restriction it makes."""
    primary, standby = servers
    replica = replica_of(api)
    org = await factories.organization(api.engine)
    await land(api.engine, [pending_blacklisting(org["uscc"], 7301)])
    await replayed(primary, standby)
    waiting = "SELECT count(*) FROM recompute_queue WHERE subject_id = $1"
    assert await fetchval(standby.url_for(DATABASE), waiting, org["id"]) == 1
    served = replica.served
    subject = (await api.gql(PENDING_SUBJECT, {"uscc": org["uscc"]}, as_client="admin"))["data"]["subject"]
    assert replica.served == served + 1  # it began on the replica
    assert [r["legalBasis"]["article"] for r in subject["restrictions"]] == ["第四十八条"]
    assert await fetchval(primary.url_for(DATABASE), waiting, org["id"]) == 0


def test_replica_settings_are_checked_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica that is no PostgreSQL URL, or a check interval longer than the lag bound, stops the start-up
    with the setting named; the URL's password never appears in the error."""
    monkeypatch.setenv("HRSS_READ_DATABASE_URLS", '["mysql://reader:s3cret-pw@db/hrss"]')
    with pytest.raises(ValidationError, match=r"HRSS_READ_DATABASE_URLS\[0\]: not a PostgreSQL URL") as refused:
        Settings()
    assert "s3cret-pw" not in str(refused.value)
    monkeypatch.setenv("HRSS_READ_DATABASE_URLS", '["postgresql://reader@replica/hrss"]')
    monkeypatch.setenv("HRSS_REPLICA_CHECK_SECONDS", "10")
    with pytest.raises(ValidationError, match="HRSS_REPLICA_CHECK_SECONDS must not exceed"):
        Settings()
    monkeypatch.setenv("HRSS_REPLICA_CHECK_SECONDS", "0.5")
    assert Settings().read_database_urls == ["postgresql://reader@replica/hrss"]
