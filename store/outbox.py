"""The outbox: every change the city credit platform must receive, written in the transaction of the change.

Writers append with :func:`record_events`. The relay (``hrss-credit outbox push``) reads the pending events in
outbox order with :func:`pending`, marks each one with :func:`mark_pushed` or :func:`mark_failed` in a short
transaction of its own, and holds the relay lock (:func:`try_lock_relay`) for the whole run so that two relays
never deliver side by side.

Outbox order is the order of ``id``, but ids are drawn when a row is inserted, not when its transaction commits:
a long transaction may commit id 10 after id 11 is already visible. :func:`delivery_horizon` and
:func:`writers_running` close that gap: the relay delivers only up to the highest pending id it saw, and only once
every transaction that was writing to the outbox at that moment has ended, so a lower id can no longer appear.

What an event tells the platform (SH art. 7, 沪人社规〔2023〕26号 第七条: complete and accurate information): beside
the internal ids, every payload carries ``subject`` (``id``, ``kind``, ``name``, and the identifier the platform
matches a subject on: an organization's ``uscc``, an individual's ``id_number``) and ``record`` (``id``,
``version``, ``type``, ``decision_number``, ``source_unit``, ``decided_on``). The platform is the recipient the
regulation names, so an individual is named by the full 居民身份证号码: a masked number or a keyed hash would
match nothing on its side. That number is stored only encrypted (store.pii), so it is never written into the
outbox: :func:`pending` and :func:`export` decrypt it into the event they return, from the subject the event
names, whose ID number never changes. Everything else is in the stored payload (or, for ``record.created``,
built from the immutable record when read: migration 0006).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncConnection

from store import subjects
from store.pii import PiiCipher
from store.tables import outbox

# The key of the session-level advisory lock a relay holds for its whole run ("hrssoutb" in ASCII).
RELAY_LOCK_KEY = 0x6872_7373_6F75_7462
LAST_ERROR_MAX_CHARS = 2000


class EventWithoutRecord(LookupError):
    """An event was to be written for a record that does not exist: it could not name its subject."""


# SH art. 7 (沪人社规〔2023〕26号 第七条): the payload is the writer's, plus the subject and decision of the record it
# names (outbox_identification, migration 0009), looked up in the same statement and transaction as the change.
_APPEND = sa.text(
    """
    INSERT INTO outbox (topic, aggregate_id, payload)
    SELECT e.topic, e.aggregate_id, e.payload || outbox_identification(r, s)
    FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(n integer, topic text, aggregate_id bigint, payload jsonb)
    JOIN credit_records r ON r.id = CAST(e.payload ->> 'record_id' AS bigint)
    JOIN subjects s ON s.id = r.subject_id
    ORDER BY e.n
    """
)


async def record_events(conn: AsyncConnection, events: list[tuple[str, int, dict[str, Any]]]) -> None:
    """Append ``(topic, aggregate id, payload)`` events in one statement, in this order.

    Every payload names its record (``record_id``); the ``subject`` and ``record`` objects are added from the
    database (they replace keys of those names). Raises :class:`EventWithoutRecord`, so that the change is
    rolled back with it, when a record does not exist. A new record's ``record.created`` event is written by
    store.imports with the record, its payload built when it is read."""
    if not events:
        return
    rows = []
    for n, (topic, aggregate_id, payload) in enumerate(events):
        if not isinstance(payload.get("record_id"), int):
            raise ValueError(f"a {topic} event's payload names its record_id: {sorted(payload)}")
        rows.append({"n": n, "topic": topic, "aggregate_id": aggregate_id, "payload": payload})
    written = (await conn.execute(_APPEND, {"events": orjson.dumps(rows).decode()})).rowcount
    if written != len(events):
        missing = sorted({p["record_id"] for _, _, p in events})
        raise EventWithoutRecord(f"outbox events name records that do not exist (among {missing})")


class UnresolvedSubject(Exception):
    """An individual's ID number could not be decrypted for an event: it is not delivered without it."""


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    event_id: uuid.UUID
    topic: str
    aggregate_id: int
    payload: dict[str, Any]
    created_at: datetime
    pushed_at: datetime | None
    attempts: int
    last_error: str | None

    def body(self) -> dict[str, Any]:
        """What the city credit platform receives for this event."""
        return {
            "event_id": str(self.event_id),
            "topic": self.topic,
            "aggregate_id": self.aggregate_id,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }

    def export_line(self) -> dict[str, Any]:
        """The delivery body plus the outbox's own bookkeeping (``outbox export``)."""
        return {
            "id": self.id,
            **self.body(),
            "pushed_at": self.pushed_at.isoformat() if self.pushed_at else None,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


# A record.created event's payload is the record it announces, built when the event is read (migration 0006),
# with its subject and decision (migration 0009): a record version's content, id, subject and version never
# change, and a record is never deleted. The subject's name is the one it has when the event is read.
_PAYLOAD = sa.func.coalesce(
    outbox.c.payload, sa.func.outbox_record_created_payload(outbox.c.aggregate_id, type_=outbox.c.payload.type)
).label("payload")

_COLUMNS = (
    outbox.c.id,
    outbox.c.event_id,
    outbox.c.topic,
    outbox.c.aggregate_id,
    _PAYLOAD,
    outbox.c.created_at,
    outbox.c.pushed_at,
    outbox.c.attempts,
    outbox.c.last_error,
)


def _id_number(subject: subjects.SubjectRow | None, pii: PiiCipher) -> str | None:
    if subject is None or subject.id_number_enc is None:
        return None
    try:
        return pii.decrypt(subject.id_number_enc)
    except (ValueError, InvalidTag):  # a key that is not configured (any more), or a ciphertext it did not write
        return None


async def _events(conn: AsyncConnection, rows: Sequence[sa.RowMapping], pii: PiiCipher) -> list[OutboxEvent]:
    """The events of these rows, each individual named by the ID number decrypted from its subject's row (one
    look-up for all the rows)."""

    def individual(payload: dict[str, Any] | None) -> dict[str, Any] | None:
        subject = (payload or {}).get("subject")
        return subject if isinstance(subject, dict) and subject.get("kind") == "INDIVIDUAL" else None

    ids = {int(subject["id"]) for row in rows if (subject := individual(row["payload"]))}
    stored = await subjects.by_ids(conn, list(ids)) if ids else {}
    events: list[OutboxEvent] = []
    for row in rows:
        payload = row["payload"]
        if subject := individual(payload):
            number = _id_number(stored.get(int(subject["id"])), pii)
            if number is None:
                raise UnresolvedSubject(
                    f"event #{row['id']} (event_id {row['event_id']}) names individual subject {subject['id']}, "
                    "whose ID number cannot be decrypted with the configured PII keys; it is not sent without it"
                )
            payload = {**payload, "subject": {**subject, "id_number": number}}
        events.append(OutboxEvent(**{**row, "payload": payload}))
    return events


async def pending(conn: AsyncConnection, limit: int, *, up_to: int | None = None, pii: PiiCipher) -> list[OutboxEvent]:
    """The first ``limit`` events not yet pushed, in outbox order; with ``up_to``, none above that id."""
    query = sa.select(*_COLUMNS).where(outbox.c.pushed_at.is_(None)).order_by(outbox.c.id).limit(limit)
    if up_to is not None:
        query = query.where(outbox.c.id <= up_to)
    return await _events(conn, list((await conn.execute(query)).mappings()), pii)


async def mark_pushed(conn: AsyncConnection, ids: Sequence[int]) -> int:
    """Record the delivery of these events (counting the attempt); returns how many were still pending."""
    if not ids:
        return 0
    result = await conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(list(ids)), outbox.c.pushed_at.is_(None))
        .values(pushed_at=sa.func.now(), attempts=outbox.c.attempts + 1)
    )
    return result.rowcount


async def mark_failed(conn: AsyncConnection, id: int, error: str) -> None:
    """Count a failed delivery attempt of a pending event and keep its error."""
    await conn.execute(
        outbox.update()
        .where(outbox.c.id == id, outbox.c.pushed_at.is_(None))
        .values(attempts=outbox.c.attempts + 1, last_error=error[:LAST_ERROR_MAX_CHARS])
    )


async def export(
    conn: AsyncConnection, pending_only: bool = False, *, pii: PiiCipher, batch: int = 500
) -> AsyncIterator[OutboxEvent]:
    """Every event (or only the pending ones) in outbox order, streamed from a server-side cursor."""
    query = sa.select(*_COLUMNS).order_by(outbox.c.id).execution_options(yield_per=batch)
    if pending_only:
        query = query.where(outbox.c.pushed_at.is_(None))
    result = await conn.stream(query)
    async for rows in result.mappings().partitions(batch):
        for event in await _events(conn, rows, pii):
            yield event


async def counts(conn: AsyncConnection) -> tuple[int, int]:
    """``(pending, pushed)`` event counts."""
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(outbox.c.pushed_at.is_(None)),
                sa.func.count().filter(outbox.c.pushed_at.is_not(None)),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


# The relay lock: session-level, so it outlives the short transactions of the run; it is released by
# :func:`unlock_relay` or when the relay's connection ends (a killed relay's lock goes with its backend).


async def try_lock_relay(conn: AsyncConnection) -> bool:
    """Take the relay lock on this connection's session, without waiting; False when another session holds it."""
    return bool((await conn.execute(sa.select(sa.func.pg_try_advisory_lock(RELAY_LOCK_KEY)))).scalar_one())


async def unlock_relay(conn: AsyncConnection) -> bool:
    """Release the relay lock held by this session; False when it did not hold it."""
    return bool((await conn.execute(sa.select(sa.func.pg_advisory_unlock(RELAY_LOCK_KEY)))).scalar_one())


async def relax_commit_durability(conn: AsyncConnection) -> None:
    """Let this session's commits return before their WAL reaches disk (``synchronous_commit = off``).

    Safe for the relay's bookkeeping alone: a server crash can then forget the last few ``pushed_at`` marks (never
    reorder them), and those events are delivered again, which at-least-once delivery allows anyway.
    """
    await conn.execute(sa.text("SET synchronous_commit = off"))


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int
    application_name: str | None
    backend_start: datetime | None
    client_addr: str | None


_LOCK_HOLDER = sa.text(
    """
    SELECT l.pid, a.application_name, a.backend_start, host(a.client_addr) AS client_addr
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = CAST((:key >> 32) AS oid) AND l.objid = CAST((:key & 4294967295) AS oid) AND l.objsubid = 1
    """
).bindparams(sa.bindparam("key", RELAY_LOCK_KEY, type_=sa.BigInteger))


async def relay_lock_holder(conn: AsyncConnection) -> LockHolder | None:
    """The session holding the relay lock in this database, if any."""
    row = (await conn.execute(_LOCK_HOLDER)).first()
    if row is None:
        return None
    return LockHolder(
        pid=row.pid,
        application_name=row.application_name or None,
        backend_start=row.backend_start,
        client_addr=row.client_addr,
    )


@dataclass(frozen=True, slots=True)
class Horizon:
    """The highest pending id, and the transactions (virtual ids) that were writing to the outbox when it was read."""

    max_id: int | None
    writers: tuple[str, ...]


_HORIZON = sa.text(
    """
    SELECT (SELECT max(id) FROM outbox WHERE pushed_at IS NULL) AS max_id,
           ARRAY(
               SELECT DISTINCT l.virtualtransaction FROM pg_locks l
               WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.relation = CAST('outbox' AS regclass)
           ) AS writers
    """
)


async def delivery_horizon(conn: AsyncConnection) -> Horizon:
    """Read the highest pending id together with every other transaction holding a write lock on the outbox.

    The lock table is read after the statement's snapshot was taken, so a transaction that drew an id below
    ``max_id`` and had not committed by then is among ``writers`` (it took its lock before drawing the id).
    Once :func:`writers_running` reports none of them, every id up to ``max_id`` is final.
    """
    row = (await conn.execute(_HORIZON)).one()
    return Horizon(max_id=row.max_id, writers=tuple(row.writers or ()))


_WRITERS_RUNNING = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid = ANY(:writers)"
).bindparams(sa.bindparam("writers", type_=sa.ARRAY(sa.Text)))


async def writers_running(conn: AsyncConnection, writers: Sequence[str]) -> int:
    """How many of these transactions are still running (each holds the lock on its virtual id until it ends)."""
    if not writers:
        return 0
    return int((await conn.execute(_WRITERS_RUNNING, {"writers": list(writers)})).scalar_one())
