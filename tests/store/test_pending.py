"""The recompute queue of bulk imports (store.pending): nobody reads a stale grade or restriction, and nothing
queued is lost to a race between an import, a reader and a drainer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from domain.taxonomy import RecordType
from domain.workdays import WorkCalendar
from services import grading as read_grades
from store import bulk, evaluation, notify, pending
from store.db import bureau_today, create_engine
from store.pii import PiiCipher
from store.tables import grades, recompute_queue, restrictions
from tests import factories
from tests.conftest import TEST_PII_KEY, running_app

TODAY = bureau_today()
DECIDED = TODAY - timedelta(days=10)
UNIT = "上海市人力资源和社会保障局执法总队"
SCREEN = """query ($refs: [SubjectRef!]!) {
  screen(sector: GOVERNMENT_PROCUREMENT, refs: $refs) { found restricted restrictions { legalBasis { article } } } }"""
SUBJECT = """query ($uscc: String!) { subject(ref: {uscc: $uscc}) {
  grade { level rule { article } } restrictions(sector: GOVERNMENT_PROCUREMENT) { since legalBasis { article } } } }"""


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=3)
    yield engine
    await engine.dispose()


def blacklisting(uscc: str, n: int) -> dict[str, Any]:
    return {
        "subject": {"uscc": uscc},
        "type": "WAGE_ARREARS_BLACKLIST",
        "severity": "SERIOUS",
        "title": "列入拖欠农民工工资失信联合惩戒对象名单",
        "decisionNumber": f"沪人社黑〔2026〕{n}号",
        "sourceUnit": UNIT,
        "legalBasis": "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》第五条",
        "decidedOn": DECIDED.isoformat(),
    }


async def land(engine: AsyncEngine, items: list[dict[str, Any]]) -> None:
    """What one chunk of `hrss-credit import` writes: records, events and queue rows, no recomputation."""
    rows, errors = bulk.build_rows(items, today=TODAY)
    assert not errors
    async with engine.begin() as conn:
        outcome = await bulk.land_chunk(conn, rows, actor="test", pii=PiiCipher(TEST_PII_KEY))
    assert not outcome.errors and outcome.created == len(items)


async def queued(engine: AsyncEngine) -> set[int]:
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(recompute_queue.c.subject_id))).scalars())


async def current_rows(engine: AsyncEngine, subject_id: int) -> tuple[int, int]:
    async with engine.connect() as conn:
        g = await conn.scalar(
            sa.select(sa.func.count()).where(grades.c.subject_id == subject_id, grades.c.superseded_at.is_(None))
        )
        r = await conn.scalar(
            sa.select(sa.func.count()).where(
                restrictions.c.subject_id == subject_id, restrictions.c.superseded_at.is_(None)
            )
        )
    return int(g or 0), int(r or 0)


async def test_a_landed_chunk_queues_its_subjects_and_the_organizations_they_represent(
    settings: Settings, database_url: str
) -> None:
    """SH art. 9(2)2: an individual's new defaulter record changes the organization it represents, so both wait."""
    async with running_app(settings.model_copy(update={"recompute_drain_seconds": 0}), database_url) as api:
        person = await factories.individual(api.engine)
        org = await factories.organization(api.engine, legal_representative_id=person["id"])
        item = {
            "subject": {"idNumber": person["id_number"]},
            "type": "JUDGMENT_DEFAULTER",
            "severity": "SERIOUS",
            "title": "失信被执行人",
            "decisionNumber": "（2026）沪0104执1号",
            "sourceUnit": "上海市徐汇区人民法院",
            "legalBasis": "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条",
            "decidedOn": DECIDED.isoformat(),
        }
        await land(api.engine, [item])
        assert await queued(api.engine) == {person["id"], org["id"]}
        assert await current_rows(api.engine, org["id"]) == (0, 0)


async def test_a_reader_recomputes_a_queued_subject_before_it_reads(settings: Settings, database_url: str) -> None:
    """SH art. 9(1) and WG art. 12(2): a blacklisting landed by an import is a C and a procurement restriction for
    the very next reader, though no drainer ran (this app's is off)."""
    async with running_app(settings.model_copy(update={"recompute_drain_seconds": 0}), database_url) as api:
        org = await factories.organization(api.engine)
        await land(api.engine, [blacklisting(org["uscc"], 1)])
        assert await queued(api.engine) == {org["id"]}

        data = await api.gql(SUBJECT, {"uscc": org["uscc"]}, as_client="admin")
        subject = data["data"]["subject"]
        assert subject["grade"]["level"] == "C"
        assert subject["grade"]["rule"]["article"] == "第十二条第（二）项"
        assert [r["legalBasis"]["article"] for r in subject["restrictions"]] == ["第四十八条"]  # SC 724, SH art. 9(1)
        assert await queued(api.engine) == set()


async def test_screening_recomputes_queued_subjects_in_its_one_statement_pass(
    settings: Settings, database_url: str
) -> None:
    """SH art. 9(1): a batch screen sees a blacklisting landed a moment ago by an import."""
    async with running_app(settings.model_copy(update={"recompute_drain_seconds": 0}), database_url) as api:
        listed = await factories.organization(api.engine)
        clean = await factories.organization(api.engine)
        await land(api.engine, [blacklisting(listed["uscc"], 2)])
        data = await api.gql(SCREEN, {"refs": [{"uscc": listed["uscc"]}, {"uscc": clean["uscc"]}]}, as_client="admin")
        results = data["data"]["screen"]
        assert [r["restricted"] for r in results] == [True, False]
        assert await queued(api.engine) == set()


async def test_an_api_process_drains_the_queue_when_an_import_notifies_it(api: Any) -> None:
    """Nobody reads; the API process's drainer, woken by the import's notification, recomputes."""
    org = await factories.organization(api.engine)
    await land(api.engine, [blacklisting(org["uscc"], 3)])
    for _ in range(100):
        if not await queued(api.engine):
            break
        await asyncio.sleep(0.05)
    assert await queued(api.engine) == set()
    grades_, restrictions_ = await current_rows(api.engine, org["id"])
    assert grades_ >= 1 and restrictions_ == 9  # the eight sectors of SH art. 9(1), and SH art. 8(2)3


async def test_a_recompute_leaves_a_queue_row_an_import_still_holds(engine: AsyncEngine) -> None:
    """The race that would lose an update: an import queues a subject again (its transaction still open) while a
    reader recomputes that subject. The reader cannot see the import's records yet, so the queue row must stay."""
    org = await factories.organization(engine)
    async with engine.begin() as conn:
        await pending.enqueue(conn, [org["id"]])
    async with engine.connect() as importing:
        await importing.begin()
        await pending.enqueue(importing, [org["id"]])  # holds the row until it commits
        async with engine.begin() as reading:
            await evaluation.recompute(reading, [org["id"]], calendar=WorkCalendar(), today=TODAY)
        await importing.commit()
    assert await queued(engine) == {org["id"]}
    async with engine.begin() as conn:
        assert await pending.settle(conn, [org["id"]]) == 1
    assert await queued(engine) == set()


async def test_drain_recomputes_everything_queued_in_batches(engine: AsyncEngine) -> None:
    orgs = [await factories.organization(engine) for _ in range(5)]
    for i, org in enumerate(orgs):
        await factories.record(engine, org["id"], decided_on=date(2026, 3, 2) + timedelta(days=i))
    async with engine.begin() as conn:
        await pending.enqueue(conn, [o["id"] for o in orgs])
    batches: list[int] = []
    done = await pending.drain(engine, batch=2, today=date(2026, 11, 21), on_batch=batches.append)
    assert done == 5 and batches == [2, 2, 1]
    assert await queued(engine) == set()
    async with engine.connect() as conn:
        found = await read_grades.grades_on_day(conn, [(o["id"], date(2026, 11, 21)) for o in orgs])
    assert {row.level for row in found.values()} == {"C"}  # WG art. 12(1): a penalty in the last year


async def test_a_listener_reconnects_when_its_connection_is_dropped(engine: AsyncEngine, database_url: str) -> None:
    """store.notify.listen, under the drainer and the restriction feed: a terminated LISTEN connection comes back,
    and notifications sent after that reach the callback again."""
    heard: list[str] = []
    state = notify.ListenerState()
    task = asyncio.create_task(
        notify.listen(database_url, "hrss_test", lambda *args: heard.append(args[3]), state=state, what="test")
    )
    try:
        await asyncio.wait_for(state.listening.wait(), 10)
        async with engine.begin() as conn:
            dropped = (
                await conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                )
            ).scalar_one()
        assert dropped == 1
        for attempt in range(100):  # until the listener is back (its backoff starts at 0.5 s)
            async with engine.begin() as conn:
                await conn.execute(sa.text("SELECT pg_notify('hrss_test', :n)"), {"n": str(attempt)})
            await asyncio.sleep(0.1)
            if heard:
                break
        assert heard, "the listener never came back"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_ndrc_2025_36_migration_0010_queues_the_subjects_whose_restrictions_follow_the_new_terms(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    """Records written before the default publication term keep their content (they are immutable); the migration
    queues their subjects, and the first read gets the restrictions the articles give today."""
    from store import migrations

    listed = await factories.organization(engine)
    penalized = await factories.organization(engine)
    untouched = await factories.organization(engine)
    decided = bureau_today() - timedelta(days=30)
    await factories.record(
        engine, listed["id"], RecordType.WAGE_ARREARS_BLACKLIST, severity="SERIOUS", decided_on=decided
    )
    await factories.record(engine, penalized["id"], severity="SERIOUS", decided_on=decided)
    await factories.record(engine, untouched["id"], decided_on=decided)  # GENERAL: restricts nothing
    await asyncio.to_thread(migrations.downgrade, database_url, "0009")
    await asyncio.to_thread(migrations.upgrade, database_url)
    assert await queued(engine) == {listed["id"], penalized["id"]}

    quiet = settings.model_copy(update={"recompute_drain_seconds": 0})
    async with running_app(quiet, database_url) as app:
        query = (
            """query ($u: String!) { subject(ref: {uscc: $u}) { restrictions { sector legalBasis { article } } } }"""
        )
        body = await app.gql(query, {"u": penalized["uscc"]})
        assert {"sector": "COMMITMENT_APPROVAL", "legalBasis": {"article": "第八条第（二）项第3目"}} in body["data"][
            "subject"
        ]["restrictions"]
        body = await app.gql(query, {"u": listed["uscc"]})
        assert len(body["data"]["subject"]["restrictions"]) == 9  # SC 724 art. 48's eight sectors, SH art. 8(2)3
