"""Writes of records and subjects: all or nothing, idempotent by (source unit, decision number).

Everything is checked before anything is written; a batch with one bad row writes nothing and reports every
bad row with its index and field. A resent row whose content is unchanged is counted as unchanged. Every
accepted record leaves an outbox event for the city credit platform (SH art. 7) in the same transaction; its
subject's grades and restrictions are recomputed by the caller in the same transaction (the API's writes) or
queued for recomputation (``queue=True``, a bulk import: store.pending).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.identifiers import mask_id_number
from domain.records import RECORD_CONTENT, FieldKind, RecordDraft, RecordField
from domain.taxonomy import CATEGORY_OF, SubjectKind
from store import pending
from store.db import array_param, copy_rows
from store.pii import PiiCipher
from store.records import CONTENT_FIELDS, content_digest
from store.tables import credit_records, subjects

MAX_BATCH = 1000


class SubjectKey(NamedTuple):
    """A validated identifier: ``uscc`` (normalized), ``id_number`` (normalized) or ``id`` (primary key).

    A tuple: a bulk import makes and hashes one a row."""

    kind: str
    value: str | int

    @property
    def subject_kind(self) -> SubjectKind | None:
        return {"uscc": SubjectKind.ORGANIZATION, "id_number": SubjectKind.INDIVIDUAL}.get(self.kind)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A checked row of a batch, with its content and digest (a bulk import computes them in its worker
    processes)."""

    index: int
    subject: SubjectKey
    subject_name: str | None
    draft: RecordDraft
    content: dict[str, Any] | None = field(default=None, compare=False)  # draft_content(draft)
    digest: str = field(default="", compare=False)  # content_digest(content)

    @classmethod
    def of(cls, index: int, subject: SubjectKey, subject_name: str | None, draft: RecordDraft) -> ImportRow:
        """A row with its content and digest computed once."""
        content = draft_content(draft)
        return cls(index, subject, subject_name, draft, content, content_digest(content))


@dataclass(frozen=True)
class RowError:
    index: int
    field: str | None
    message: str


@dataclass
class ImportOutcome:
    created: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)  # in the order of the rows; empty for a bulk import
    touched_subjects: set[int] = field(default_factory=set)


def _trimmed(text: str | None) -> str | None:
    return text.strip() if text else None


def _value(member: StrEnum | None) -> str | None:
    return member.value if member is not None else None


def _stored_as(field: RecordField) -> Callable[[Any], Any] | None:
    """How a draft's value of ``field`` is stored; None: as it is."""
    if field.kind is FieldKind.ENUM:
        return _value
    if field.kind is FieldKind.TEXT:
        # An optional text given empty is stored as null; a required one is always text, stored trimmed.
        return str.strip if field.required else _trimmed
    return None


# The fields whose stored value is not the draft's own, with how it is made. The category is not among them: it
# is the type's, which check_draft holds a given one to.
_STORED_AS = tuple(
    (f.name, stored_as) for f in RECORD_CONTENT if f.name != "category" and (stored_as := _stored_as(f)) is not None
)


def draft_content(draft: RecordDraft) -> dict[str, Any]:
    """A draft's content as it is stored and digested (store.records.content_digest)."""
    content = dict(zip(CONTENT_FIELDS, draft, strict=True))
    for name, stored_as in _STORED_AS:
        content[name] = stored_as(content[name])
    content["category"] = CATEGORY_OF[draft.type].value
    return content


async def resolve_subjects(conn: AsyncConnection, keys: Sequence[SubjectKey], pii: PiiCipher) -> dict[SubjectKey, int]:
    """Primary keys of the subjects these keys name (one statement per identifier kind at most)."""
    found: dict[SubjectKey, int] = {}
    # Each kind is one array parameter (= ANY), not an IN list of a parameter per key: a batch of 1,000 keys
    # is then one small statement that PostgreSQL prepares once.
    usccs = {str(k.value) for k in keys if k.kind == "uscc"}
    if usccs:
        rows = await conn.execute(
            sa.select(subjects.c.id, subjects.c.uscc).where(subjects.c.uscc == sa.any_(array_param(usccs, sa.Text)))
        )
        by = {r.uscc: r.id for r in rows}
        found |= {k: by[k.value] for k in keys if k.kind == "uscc" and k.value in by}
    hashes = {k: pii.lookup_hash(str(k.value)) for k in keys if k.kind == "id_number"}
    if hashes:
        rows = await conn.execute(
            sa.select(subjects.c.id, subjects.c.id_number_hash).where(
                subjects.c.id_number_hash == sa.any_(array_param(set(hashes.values()), sa.LargeBinary))
            )
        )
        by_hash = {bytes(r.id_number_hash): r.id for r in rows}
        found |= {k: by_hash[h] for k, h in hashes.items() if h in by_hash}
    pks = {int(k.value) for k in keys if k.kind == "id"}
    if pks:
        rows = await conn.execute(
            sa.select(subjects.c.id).where(subjects.c.id == sa.any_(array_param(pks, sa.BigInteger)))
        )
        existing = {r.id for r in rows}
        found |= {k: int(k.value) for k in keys if k.kind == "id" and int(k.value) in existing}
    return found


# A batch's new subjects and records are written with COPY (store.db.copy_rows) under ids taken from their
# sequences beforehand: the client then knows every new row's id without RETURNING, and a batch of 1,000 rows
# costs a few round trips and a fraction of the CPU an INSERT of one array a column took on both sides.
_SUBJECT_COLUMNS = ("id", "kind", "name", "uscc", "id_number_hash", "id_number_enc", "id_number_masked", "region_code")
# details goes as JSON text (the connection's jsonb codec takes text); the other content columns as they are.
_PLAIN_CONTENT_COLUMNS = tuple(c for c in CONTENT_FIELDS if c != "details")
_RECORD_COLUMNS = ("id", "subject_id", *_PLAIN_CONTENT_COLUMNS, "details", "content_digest", "created_by")
_PLAIN_CONTENT = operator.itemgetter(*_PLAIN_CONTENT_COLUMNS)


async def _next_ids(conn: AsyncConnection, sequence: str, count: int) -> list[int]:
    """``count`` new ids from ``sequence``: one statement, one array value."""
    statement = sa.text(f"SELECT array_agg(nextval('{sequence}')) FROM generate_series(1, :count)")  # noqa: S608
    return list((await conn.execute(statement, {"count": count})).scalar_one())


def _events_statement(*, queue: bool) -> sa.TextClause:
    """The new records' ``record.created`` outbox events (the payload, the record itself, is built when the
    event is read: store.outbox) and, for a bulk import, their subjects and the organizations those represent
    queued for recomputation (store.pending): one statement."""
    queued = (
        """,
        queued AS (
          INSERT INTO recompute_queue (subject_id)
          SELECT id FROM unnest(CAST(:subject_ids AS bigint[])) AS id
          UNION SELECT s.id FROM subjects s WHERE s.legal_representative_id = ANY(CAST(:subject_ids AS bigint[]))
          ORDER BY 1
          ON CONFLICT (subject_id) DO UPDATE SET queued_at = now()
        )"""
        if queue
        else ""
    )
    return sa.text(
        f"""
        WITH events AS (
          INSERT INTO outbox (topic, aggregate_id)
          SELECT 'record.created', id FROM unnest(CAST(:record_ids AS bigint[])) AS id ORDER BY id
        ){queued}
        SELECT 1
        """  # noqa: S608 (constant text; every value is a bound parameter)
    )


_EVENTS = _events_statement(queue=False)
_EVENTS_QUEUED = _events_statement(queue=True)


async def insert_subjects(conn: AsyncConnection, new: dict[SubjectKey, str], pii: PiiCipher) -> dict[SubjectKey, int]:
    if not new:
        return {}
    # In the order of their identifiers: two batches written side by side (a bulk import's workers) that create
    # the same subjects then wait for each other in one order, never in a deadlock.
    keys = sorted(new, key=lambda key: (key.kind, str(key.value)))
    ids = await _next_ids(conn, "subjects_id_seq", len(keys))
    rows: list[tuple[Any, ...]] = []
    for pk, key in zip(ids, keys, strict=True):
        name = new[key]
        if key.kind == "uscc":
            code = str(key.value)
            rows.append((pk, "ORGANIZATION", name, code, None, None, None, code[2:8]))
        else:
            number = str(key.value)
            rows.append(
                (
                    pk,
                    "INDIVIDUAL",
                    name,
                    None,
                    pii.lookup_hash(number),
                    pii.encrypt(number),
                    mask_id_number(number),
                    number[:6],
                )
            )
    await copy_rows(conn, "subjects", _SUBJECT_COLUMNS, rows)
    return dict(zip(keys, ids, strict=True))


async def import_records(
    conn: AsyncConnection, rows: Sequence[ImportRow], *, actor: str, pii: PiiCipher, queue: bool = False
) -> ImportOutcome:
    """Write the batch, or nothing: the returned outcome lists every problem when it is rejected.

    ``queue``: put the touched subjects in the recompute queue (store.pending) rather than leaving their
    recomputation to the caller."""
    outcome = ImportOutcome()
    subject_ids = await resolve_subjects(conn, [r.subject for r in rows], pii)
    to_create = _subjects_to_create(rows, subject_ids, outcome)
    plan = await _plan_records(conn, rows, subject_ids, outcome)
    if outcome.errors:
        return outcome

    subject_ids |= await insert_subjects(conn, to_create, pii)
    if plan.new_rows:
        await _write_records(conn, plan, subject_ids, outcome, actor=actor, queue=queue)
    # Rows that repeat an earlier row of the same batch share its record.
    outcome.unchanged += len(plan.repeats)
    if not queue:
        for index, first in plan.repeats:
            plan.result_ids[index] = plan.result_ids[first]
        outcome.record_ids = [plan.result_ids[r.index] for r in rows]
    return outcome


def _subjects_to_create(
    rows: Sequence[ImportRow], subject_ids: dict[SubjectKey, int], outcome: ImportOutcome
) -> dict[SubjectKey, str]:
    """The unknown subjects the batch names with a name to create them by; a row naming an unknown subject
    without one is an error in ``outcome``."""
    to_create: dict[SubjectKey, str] = {}
    for row in rows:
        if row.subject in subject_ids:
            continue
        if row.subject.kind == "id":
            outcome.errors.append(RowError(row.index, "subject.id", "no subject has this id"))
        elif not (row.subject_name or "").strip():
            outcome.errors.append(
                RowError(row.index, "subjectName", "the subject is unknown: give subjectName to create it")
            )
        else:
            to_create.setdefault(row.subject, (row.subject_name or "").strip())
    return to_create


@dataclass
class _RecordPlan:
    """What a batch's rows come to before anything is written."""

    new_rows: list[tuple[ImportRow, dict[str, Any], str]] = field(default_factory=list)  # (row, content, digest)
    result_ids: dict[int, int] = field(default_factory=dict)  # row index -> its record
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (row, the earlier row of this batch it repeats)


async def _plan_records(
    conn: AsyncConnection, rows: Sequence[ImportRow], subject_ids: dict[SubjectKey, int], outcome: ImportOutcome
) -> _RecordPlan:
    """Sort each row by its (source unit, decision number): already recorded with the same content (unchanged),
    a repeat of an earlier row of the batch, new, or an error in ``outcome``."""
    contents = [r.content or draft_content(r.draft) for r in rows]
    digests = [r.digest or content_digest(c) for r, c in zip(rows, contents, strict=True)]
    keys = [(c["source_unit"], c["decision_number"]) for c in contents]
    existing = await _current_by_decision(conn, keys)
    seen_in_batch: dict[tuple[str, str], tuple[int, str]] = {}
    plan = _RecordPlan()
    for row, content, digest, key in zip(rows, contents, digests, keys, strict=True):
        if key in existing:
            record_id, old_digest, old_subject = existing[key]
            same_subject = subject_ids.get(row.subject) == old_subject
            if old_digest == digest and same_subject:
                plan.result_ids[row.index] = record_id
                outcome.unchanged += 1
            else:
                outcome.errors.append(
                    RowError(
                        row.index,
                        "decisionNumber",
                        "this source unit already recorded this decision number with other content; "
                        "a record is changed only by a correction (objection), never overwritten",
                    )
                )
            continue
        if key in seen_in_batch:
            first_index, first_digest = seen_in_batch[key]
            if first_digest != digest:
                outcome.errors.append(
                    RowError(row.index, "decisionNumber", f"repeats row {first_index} with other content")
                )
            else:
                plan.repeats.append((row.index, first_index))
            continue
        seen_in_batch[key] = (row.index, digest)
        plan.new_rows.append((row, content, digest))
    return plan


async def _write_records(
    conn: AsyncConnection,
    plan: _RecordPlan,
    subject_ids: dict[SubjectKey, int],
    outcome: ImportOutcome,
    *,
    actor: str,
    queue: bool,
) -> None:
    """Write the plan's new records with their outbox events (and, with ``queue``, their subjects queued for
    recomputation); note each record's id in the plan."""
    new_rows = plan.new_rows
    owners = [subject_ids[row.subject] for row, _, _ in new_rows]
    ids = await _next_ids(conn, "credit_records_id_seq", len(new_rows))
    await copy_rows(
        conn,
        "credit_records",
        _RECORD_COLUMNS,
        [
            (pk, owner, *_PLAIN_CONTENT(content), orjson.dumps(content["details"]).decode(), digest, actor)
            for pk, owner, (_, content, digest) in zip(ids, owners, new_rows, strict=True)
        ],
    )
    touched = set(owners)
    await conn.execute(
        _EVENTS_QUEUED if queue else _EVENTS,
        {"record_ids": ids, "subject_ids": sorted(touched)} if queue else {"record_ids": ids},
    )
    if queue:
        await pending.wake_drainers(conn)
    for pk, (row, _, _) in zip(ids, new_rows, strict=True):
        plan.result_ids[row.index] = pk
    outcome.created = len(new_rows)
    outcome.touched_subjects = touched


async def _current_by_decision(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, int]]:
    if not keys:
        return {}
    c = credit_records.c
    units = [k[0] for k in keys]
    numbers = [k[1] for k in keys]
    pairs = sa.select(
        sa.func.unnest(sa.cast(units, sa.ARRAY(sa.Text))).label("unit"),
        sa.func.unnest(sa.cast(numbers, sa.ARRAY(sa.Text))).label("number"),
    ).subquery()
    rows = await conn.execute(
        sa.select(c.id, c.source_unit, c.decision_number, c.content_digest, c.subject_id, c.version)
        .join(pairs, sa.and_(c.source_unit == pairs.c.unit, c.decision_number == pairs.c.number))
        .where(c.version == 1)
    )
    return {(r.source_unit, r.decision_number): (r.id, r.content_digest, r.subject_id) for r in rows}


@dataclass(frozen=True)
class SubjectUpsert:
    index: int
    ref: SubjectKey
    name: str
    region_code: str | None
    legal_representative: SubjectKey | None


async def upsert_subjects(
    conn: AsyncConnection, items: Sequence[SubjectUpsert], *, pii: PiiCipher
) -> tuple[list[int], list[RowError]]:
    """Create or update subjects (name, region, legal representative); all or nothing."""
    found = await resolve_subjects(conn, [i.ref for i in items], pii)
    errors: list[RowError] = []
    for item in items:
        if item.ref.kind == "id" and item.ref not in found:
            errors.append(RowError(item.index, "ref.id", "no subject has this id"))
        rep = item.legal_representative
        if rep is not None and item.ref.kind == "id_number":
            errors.append(RowError(item.index, "legalRepresentative", "only an organization has one"))
        elif rep is not None and rep.kind == "uscc":
            errors.append(RowError(item.index, "legalRepresentative", "must be an individual"))
    if errors:
        return [], errors
    # New subjects first, so that a representative may be created in the same batch as its organization.
    missing = {i.ref: i.name for i in items if i.ref not in found}
    found |= await insert_subjects(conn, missing, pii)
    reps = [i.legal_representative for i in items if i.legal_representative]
    found |= await resolve_subjects(conn, [r for r in reps if r not in found], pii)
    for item in items:
        if item.legal_representative is not None and item.legal_representative not in found:
            errors.append(RowError(item.index, "legalRepresentative", "unknown individual: upsert them first"))
    if errors:  # the caller's transaction is rolled back: the subjects created above go with it
        return [], errors
    ids: list[int] = []
    for item in items:
        pk = found[item.ref]
        values: dict[str, Any] = {"name": item.name, "updated_at": sa.func.now()}
        if item.region_code is not None:
            values["region_code"] = item.region_code
        if item.legal_representative is not None:
            values["legal_representative_id"] = found[item.legal_representative]
        await conn.execute(subjects.update().where(subjects.c.id == pk).values(**values))
        ids.append(pk)
    return ids, []
