"""store.bulk: RecordInput-shaped rows checked as the importRecords mutation checks them, and written chunk by chunk."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.identifiers import normalize
from domain.taxonomy import RecordType, Severity
from services import grading as read_grades
from store import bulk, pending
from store import outbox as store_outbox
from store.db import bureau_today, create_engine
from store.imports import ImportOutcome, ImportRow, SubjectKey
from store.pii import PiiCipher
from store.tables import credit_records, outbox, recompute_queue, subjects
from tests import factories
from tests.conftest import TEST_PII_KEY

TODAY = bureau_today()
PII = PiiCipher(TEST_PII_KEY)


def penalty(uscc: str, number: str = "沪人社监罚〔2026〕1号", **overrides: Any) -> dict[str, Any]:
    """A JSON line's RecordInput, as the mutation's tests send it (tests/schema/test_writes.py)."""
    row: dict[str, Any] = {
        "subject": {"uscc": uscc},
        "subjectName": "上海批量导入测试有限公司",
        "type": "ADMINISTRATIVE_PENALTY",
        "severity": "GENERAL",
        "title": "一般程序行政处罚：未按时足额支付劳动报酬",
        "decisionNumber": number,
        "sourceUnit": "上海市人力资源和社会保障局执法总队",
        "legalBasis": "《劳动保障监察条例》第二十六条",
        "decidedOn": (TODAY - timedelta(days=30)).isoformat(),
        "publicityUntil": (TODAY - timedelta(days=30) + timedelta(days=200)).isoformat(),
        "details": {"amount_yuan": 30000},
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def problems(items: list[dict[str, Any]], **kwargs: Any) -> list[tuple[int, str | None]]:
    _, errors = bulk.build_rows(items, today=TODAY, **kwargs)
    return [(e.index, e.field) for e in errors]


def test_a_good_row_becomes_an_import_row_with_its_normalized_identifier_and_index() -> None:
    uscc = factories.new_uscc()
    spaced = f"{uscc[:6]} {uscc[6:12]}-{uscc[12:].lower()}"
    rows, errors = bulk.build_rows([penalty(uscc), penalty(spaced, "2号")], today=TODAY, start_index=1000)
    assert errors == []
    assert [r.index for r in rows] == [1000, 1001]
    assert rows[1].subject == SubjectKey("uscc", uscc)
    draft = rows[0].draft
    assert (draft.type, draft.severity, draft.category) == (RecordType.ADMINISTRATIVE_PENALTY, Severity.GENERAL, None)
    assert draft.decided_on == TODAY - timedelta(days=30)
    assert draft.details == {"amount_yuan": 30000}
    assert rows[0].subject_name == "上海批量导入测试有限公司"


def test_an_individual_is_named_by_id_number() -> None:
    number = factories.new_id_number()
    item = penalty("", subject={"idNumber": number.lower()[:-1] + number[-1].lower()})
    rows, errors = bulk.build_rows([item], today=TODAY)
    assert errors == []
    assert rows[0].subject == SubjectKey("id_number", normalize(number))


# The mutation's own cases (tests/schema/test_writes.py), checked here without the database.
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "ENHANCING"}, "category"),
        ({"severity": "SERIOUS", "legalBasis": None, "publicityUntil": None}, "legalBasis"),
        ({"decidedOn": (TODAY + timedelta(days=1)).isoformat(), "publicityUntil": None}, "decidedOn"),
        ({"publicityUntil": (TODAY + timedelta(days=800)).isoformat()}, "publicityUntil"),
        ({"subject": {"uscc": "913101040000000000"}}, "subject.uscc"),
        ({"subject": {}}, "subject"),
        ({"subject": {"uscc": "91310104MA1FL0000X", "idNumber": "110101199003070012"}}, "subject"),
        ({"type": "PENALTY"}, "type"),
        ({"severity": "BAD"}, "severity"),
        ({"category": "NONE"}, "category"),
        ({"decidedOn": "2026-13-01"}, "decidedOn"),
        ({"occurredOn": "yesterday"}, "occurredOn"),
        ({"title": "  "}, "title"),
        ({"decisionNumber": 17}, "decisionNumber"),
        ({"penaltyFulfilled": "yes"}, "penaltyFulfilled"),
        ({"details": [1, 2]}, "details"),
        ({"amount": 3}, "amount"),
        ({"subject": {"uscc": factories.new_uscc(), "name": "x"}}, "subject.name"),
        ({"subject": {"id": "U3ViamVjdDox"}}, "subject.id"),
    ],
)
def test_a_bad_row_is_reported_with_its_index_and_field(overrides: dict[str, Any], field: str) -> None:
    good = penalty(factories.new_uscc(), "10号")
    bad = penalty(factories.new_uscc(), "11号", **overrides)
    bad |= {k: v for k, v in overrides.items() if v is None}  # an explicit null is the same as no value
    assert problems([good, bad], start_index=7) == [(8, field)]


@pytest.mark.parametrize("missing", ["subject", "type", "title", "decisionNumber", "sourceUnit", "decidedOn"])
def test_a_missing_required_field_is_named(missing: str) -> None:
    item = penalty(factories.new_uscc())
    del item[missing]
    _, errors = bulk.build_rows([item], today=TODAY)
    assert [(e.field, e.message) for e in errors] == [(missing, "is required")]


def test_every_problem_of_a_row_is_reported_not_only_the_first() -> None:
    item = penalty(
        "91310104MA1FL0000X",
        type="WAGE_ARREARS_BLACKLIST",
        severity="GENERAL",
        decidedOn=(TODAY + timedelta(days=3)).isoformat(),
        publicityUntil=None,
        category="BASIC",
    )
    assert problems([item]) == [(0, "subject.uscc"), (0, "category"), (0, "severity"), (0, "decidedOn")]


def test_a_field_that_does_not_parse_is_not_judged_twice() -> None:
    # An unknown severity is reported as such, not also as a missing one.
    _, errors = bulk.build_rows([penalty(factories.new_uscc(), severity="HUGE")], today=TODAY)
    assert [(e.field, e.message) for e in errors] == [("severity", "is not a Severity: one of MINOR, GENERAL, SERIOUS")]


def test_a_value_is_never_repeated_in_a_reason() -> None:
    number = factories.new_id_number()
    _, errors = bulk.build_rows([penalty(factories.new_uscc(), type=number, decidedOn=number)], today=TODAY)
    assert [e.field for e in errors] == ["type", "decidedOn"]
    assert all(number not in e.message for e in errors)


def test_not_an_object() -> None:
    assert problems([["a", "b"]]) == [(0, None)]  # type: ignore[list-item]


def test_typed_values_are_accepted_as_the_mutation_passes_them() -> None:
    item = penalty(factories.new_uscc())
    item |= {"type": RecordType.ADMINISTRATIVE_PENALTY, "severity": Severity.GENERAL}
    item |= {"decidedOn": TODAY - timedelta(days=30), "publicityUntil": TODAY + timedelta(days=100)}
    rows, errors = bulk.build_rows([item], today=TODAY)
    assert errors == [] and rows[0].draft.publicity_until == TODAY + timedelta(days=100)


def test_own_unit_refuses_the_records_of_another_unit() -> None:
    own = penalty(factories.new_uscc(), "21号")
    other = penalty(factories.new_uscc(), "22号", sourceUnit="上海市徐汇区人力资源和社会保障局")
    assert problems([own, other], own_unit="上海市人力资源和社会保障局执法总队") == [(1, "sourceUnit")]


def test_a_subject_id_is_accepted_only_through_the_given_parser() -> None:
    def parse(value: str) -> int:
        if value != "S:41":
            raise ValueError("is not a subject id")
        return 41

    rows, errors = bulk.build_rows(
        [penalty("", subject={"id": "S:41"}), penalty("", "2号", subject={"id": "R:1"})],
        today=TODAY,
        parse_subject_id=parse,
    )
    assert rows[0].subject == SubjectKey("id", 41)
    assert [(e.index, e.field, e.message) for e in errors] == [(1, "subject.id", "is not a subject id")]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    e = create_engine(database_url)
    yield e
    await e.dispose()


async def land_and_settle(conn: AsyncConnection, rows: list[ImportRow]) -> ImportOutcome:
    """One chunk of `hrss-credit import` (records, events, queue), then what the next reader does (settle)."""
    outcome = await bulk.land_chunk(conn, rows, actor="test", pii=PII)
    if not outcome.errors:
        assert await pending.settle(conn, outcome.touched_subjects) == len(outcome.touched_subjects)
    return outcome


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_a_landed_chunk_writes_creates_subjects_and_its_reader_recomputes_the_grade(engine: AsyncEngine) -> None:
    penalized, awarded = factories.new_uscc(), factories.new_uscc()
    person = factories.new_id_number()
    items = [
        penalty(penalized),
        penalty(awarded, "奖〔2026〕1号", type="AWARD", severity=None, legalBasis=None, publicityUntil=None),
        penalty("", "沪人社监罚〔2026〕3号", subject={"idNumber": person}, subjectName="张三"),
    ]
    rows, errors = bulk.build_rows(items, today=TODAY)
    assert errors == []
    async with engine.begin() as conn:
        outcome = await land_and_settle(conn, rows)
    assert (outcome.created, outcome.unchanged, outcome.errors) == (3, 0, [])
    async with engine.connect() as conn:
        ids = dict((await conn.execute(sa.select(subjects.c.uscc, subjects.c.id))).all())
        graded = await read_grades.grades_on_day(conn, [(ids[penalized], TODAY), (ids[awarded], TODAY)])
        stored = (
            await conn.execute(sa.select(subjects.c.id_number_masked).where(subjects.c.kind == "INDIVIDUAL"))
        ).scalar_one()
    assert graded[(ids[penalized], TODAY)].level == "C"
    assert graded[(ids[awarded], TODAY)].level == "A"
    assert stored == person[:6] + "********" + person[14:]
    assert await count(engine, outbox) == 3

    async with engine.begin() as conn:
        again = await land_and_settle(conn, rows)
    assert (again.created, again.unchanged) == (0, 3)
    assert await count(engine, credit_records) == 3


async def test_a_landed_records_event_carries_the_record_and_a_time_ordered_event_id(engine: AsyncEngine) -> None:
    """The record.created payload is built from the record when the event is read (migration 0006): the same
    JSON a copy made at write time held, since a record version never changes."""
    uscc = factories.new_uscc()
    rows, errors = bulk.build_rows([penalty(uscc), penalty(uscc, "沪人社监罚〔2026〕2号", details=None)], today=TODAY)
    assert errors == []
    async with engine.begin() as conn:
        assert (await land_and_settle(conn, rows)).created == 2
    async with engine.connect() as conn:
        events = await store_outbox.pending(conn, 10, pii=PII)
        records = {r.id: r for r in await conn.execute(sa.select(credit_records).order_by(credit_records.c.id))}
        stored = list((await conn.execute(sa.select(outbox.c.payload).order_by(outbox.c.id))).scalars())
    assert stored == [None, None]  # nothing copied
    assert [e.topic for e in events] == ["record.created"] * 2 and [e.aggregate_id for e in events] == list(records)
    first = records[events[0].aggregate_id]
    decided = TODAY - timedelta(days=30)
    assert events[0].payload == {
        "record_id": first.id,
        "subject_id": first.subject_id,
        "version": 1,
        "type": "ADMINISTRATIVE_PENALTY",
        "category": "DISHONESTY",
        "severity": "GENERAL",
        "title": "一般程序行政处罚：未按时足额支付劳动报酬",
        "decision_number": "沪人社监罚〔2026〕1号",
        "source_unit": "上海市人力资源和社会保障局执法总队",
        "legal_basis": "《劳动保障监察条例》第二十六条",
        "occurred_on": None,
        "decided_on": decided.isoformat(),
        "publicity_until": (decided + timedelta(days=200)).isoformat(),
        "penalty_fulfilled": None,
        "corrected_on": None,
        "details": {"amount_yuan": 30000},
        # SH art. 7: the subject the platform matches on and the decision, as every topic carries them.
        "subject": {"id": first.subject_id, "kind": "ORGANIZATION", "name": "上海批量导入测试有限公司", "uscc": uscc},
        "record": {
            "id": first.id,
            "version": 1,
            "type": "ADMINISTRATIVE_PENALTY",
            "decision_number": "沪人社监罚〔2026〕1号",
            "source_unit": "上海市人力资源和社会保障局执法总队",
            "decided_on": decided.isoformat(),
        },
    }
    assert events[1].payload["details"] is None and events[1].payload["decision_number"] == "沪人社监罚〔2026〕2号"
    for event in events:  # UUIDv7: version 7, RFC 9562 variant, the first 48 bits the Unix time in milliseconds
        assert event.event_id.version == 7 and event.event_id.variant == uuid.RFC_4122
        millis = event.event_id.int >> 80
        assert abs(millis / 1000 - event.created_at.timestamp()) < 60


async def test_a_chunk_the_store_rejects_writes_nothing_and_names_the_rows(engine: AsyncEngine) -> None:
    """land_chunk (a batch of the importRecords mutation's kind): all or nothing."""
    known = await factories.organization(engine)
    rows, errors = bulk.build_rows(
        [penalty(known["uscc"], subjectName=None), penalty(factories.new_uscc(), "2号", subjectName=None)],
        today=TODAY,
        start_index=40,
    )
    assert errors == []
    async with engine.begin() as conn:
        outcome = await land_and_settle(conn, rows)
        await conn.rollback()
    assert outcome.created == 0 and [(e.index, e.field) for e in outcome.errors] == [(41, "subjectName")]
    assert await count(engine, credit_records) == 0


async def test_the_rows_the_store_refuses_are_skipped_and_the_others_of_the_chunk_land(engine: AsyncEngine) -> None:
    """land_accepted_rows (a chunk of a file import): an unknown subject without a name, a decision number
    recorded before with other content and one repeated in the chunk with other content are each one row's
    problem; the other rows are written, with their events and queued subjects, and a resend is unchanged."""
    known = await factories.organization(engine)
    earlier, _ = bulk.build_rows([penalty(known["uscc"], "1号")], today=TODAY)
    async with engine.begin() as conn:
        assert (await land_and_settle(conn, earlier)).created == 1
    fresh = factories.new_uscc()
    items = [
        penalty(known["uscc"], "2号", subjectName=None),  # known subject: no name needed
        penalty(factories.new_uscc(), "3号", subjectName=None),  # unknown subject, no name
        penalty(known["uscc"], "1号", title="另一份决定书"),  # recorded before with other content
        penalty(fresh, "4号"),
        penalty(fresh, "4号", title="另一份决定书"),  # repeats the row before with other content
        penalty(fresh, "4号"),  # repeats it unchanged
    ]
    rows, errors = bulk.build_rows(items, today=TODAY, start_index=10)
    assert errors == []
    async with engine.begin() as conn:
        outcome, skipped = await bulk.land_accepted_rows(conn, rows, actor="test", pii=PII)
    assert [(e.index, e.field) for e in skipped] == [
        (11, "subjectName"),
        (12, "decisionNumber"),
        (14, "decisionNumber"),
    ]
    assert skipped[2].message == "repeats row 13 with other content"
    assert (outcome.created, outcome.unchanged, outcome.errors) == (2, 1, [])
    async with engine.connect() as conn:
        stored = set((await conn.execute(sa.select(credit_records.c.decision_number, credit_records.c.title))).all())
        queued = set((await conn.execute(sa.select(recompute_queue.c.subject_id))).scalars())
    assert {number for number, _ in stored} == {"1号", "2号", "4号"}
    assert ("1号", "一般程序行政处罚：未按时足额支付劳动报酬") in stored
    assert await count(engine, outbox) == 3
    assert queued == outcome.touched_subjects and len(queued) == 2

    async with engine.begin() as conn:
        again, skipped_again = await bulk.land_accepted_rows(conn, rows, actor="test", pii=PII)
    assert (again.created, again.unchanged) == (0, 3)
    assert [(e.index, e.field) for e in skipped_again] == [(e.index, e.field) for e in skipped]
    assert await count(engine, credit_records) == 3


async def test_details_are_stored_as_given_and_a_missing_one_as_json_null(engine: AsyncEngine) -> None:
    rows, _ = bulk.build_rows(
        [penalty(factories.new_uscc(), "1号"), penalty(factories.new_uscc(), "2号", details=None)], today=TODAY
    )
    async with engine.begin() as conn:
        await land_and_settle(conn, rows)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(credit_records.c.decision_number, sa.func.jsonb_typeof(credit_records.c.details)).order_by(
                    credit_records.c.decision_number
                )
            )
        ).all()
    assert stored == [("1号", "object"), ("2号", "null")]
