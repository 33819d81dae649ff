"""The audit log (SH art. 12, WG art. 7): append-only, hash-chained by one sealer, anchored by signed checkpoints.

Appending takes no lock that another writer waits for: an entry is inserted unsealed (``prev_hash`` and ``hash``
NULL) with the id its identity draws (migration 0011). Two ways in:

- :func:`append` writes an entry inside the caller's transaction, so that a write and its entry commit together
  (mutations).
- :class:`AuditWriter` gathers the entries of concurrent callers into one INSERT in a transaction of its own and
  answers each caller once that transaction is durable (reads): one commit, one WAL flush, for many entries.

Sealing: one :class:`Sealer` at a time across all processes (a session advisory lock held by the sealer alone)
chains the unsealed entries in id order with ``audit_log_seal``. Ids are drawn when a row is inserted, not when
its transaction commits, so a transaction may still commit id 10 after id 11 is visible. :func:`seal` closes that
gap the way the outbox relay does (store.outbox): it reads the highest unsealed id together with every other
transaction holding a write lock on the log, waits until each of those has ended, and only then seals up to that
id, which no transaction can undercut any more.

Checkpoints: the sealer signs the chain head (entry id, hash, time) with the ES256 key whose public half is in
the JWKS, keeps it in ``audit_checkpoints`` and lets ``hrss-credit audit checkpoints`` export it to the auditor
and the city platform. :func:`verify` checks that the chain still passes through every checkpoint it is given,
so a chain recomputed from scratch by the table's owner, who can bypass every trigger, no longer verifies.
docs/audit.md states what each part guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
import structlog
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.outbox import writers_running
from store.session import DatabaseUnavailable, _unreachable
from store.tables import audit_checkpoints, audit_log

log = structlog.get_logger("hrss_credit.audit")

# The key of the session-level advisory lock the sealer holds while it is the sealer ("hrssseal" in ASCII).
SEALER_LOCK_KEY = 0x6872_7373_7365_616C
GENESIS = bytes(32)  # the prev_hash of the first entry
CHECKPOINT_TYPE = "hrss-audit-checkpoint+jws"


@dataclass
class AuditEntry:
    actor: str
    operation: str
    operation_type: str
    outcome: str
    audience: str | None = None
    request_id: str | None = None
    purpose: str | None = None
    subject_ids: Iterable[int] = ()
    fields_returned: Iterable[str] = ()
    fields_refused: Iterable[str] = field(default_factory=tuple)

    def row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "actor": self.actor,
            "audience": self.audience,
            "operation": self.operation,
            "operation_type": self.operation_type,
            "subject_ids": sorted(set(self.subject_ids)),
            "fields_returned": sorted(set(self.fields_returned)),
            "fields_refused": sorted(set(self.fields_refused)),
            "purpose": self.purpose,
            "outcome": self.outcome,
        }


# One statement for one entry or a thousand: a single JSON parameter, planned once. The ids are drawn in the
# order of the list.
_INSERT = sa.text(
    """
    INSERT INTO audit_log (request_id, actor, audience, operation, operation_type, subject_ids, fields_returned,
                           fields_refused, purpose, outcome)
    SELECT e.request_id, e.actor, e.audience, e.operation, e.operation_type, e.subject_ids, e.fields_returned,
           e.fields_refused, e.purpose, e.outcome
    FROM ROWS FROM (jsonb_to_recordset(CAST(:entries AS jsonb)) AS (
        request_id text, actor text, audience text, operation text, operation_type text, subject_ids bigint[],
        fields_returned text[], fields_refused text[], purpose text, outcome text)) WITH ORDINALITY AS e
    ORDER BY e.ordinality
    """
)


def _entries_param(entries: Sequence[AuditEntry]) -> dict[str, str]:
    return {"entries": orjson.dumps([e.row() for e in entries]).decode()}


async def append(conn: AsyncConnection, entry: AuditEntry) -> None:
    """Append ``entry`` in the connection's transaction: it is durable when, and only if, that transaction
    commits. For a write whose entry must commit with it; a read uses :class:`AuditWriter`."""
    await conn.execute(_INSERT, _entries_param([entry]))


class AuditWriter:
    """Group commit of audit entries: ``await writer.append(entry)`` returns once the entry is durable.

    The interface for any request path (the GraphQL extension, a compiled read plan)::

        writer = AuditWriter(engine)          # one per process, made in the lifespan
        await writer.append(entry)            # returns after the commit that holds the entry; raises if it failed
        await writer.close()                  # at shutdown: writes what is queued, then refuses new entries

    ``append`` never joins the caller's transaction: commit or release the request's own connection first, so
    that it is not held while the entry waits for its batch. Entries of concurrent callers that arrive while a
    batch is being written go together into the next one (at most ``max_batch``, ``max_in_flight`` batches at
    once, each one INSERT committing on its own). One batch in flight makes the largest batches, so the fewest
    commits for the database to do. When a batch fails, its entries are written one by one, so an
    entry the database refuses fails its own caller only. An unreachable database raises
    :class:`store.session.DatabaseUnavailable`; anything else raises the database's error. ``on_durable`` (if
    set) is called after each batch: the process's sealer uses it to wake up.

    The writer keeps up to ``max_in_flight`` connections of ``engine`` between batches. A kept connection the
    server dropped meanwhile is replaced and the batch sent once more; should the first attempt have committed
    all the same (the connection lost mid-commit), its entries are then recorded twice, never lost.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 1000,
        max_in_flight: int = 1,
        on_durable: Callable[[], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._engine = engine
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self.on_durable = on_durable
        self._queue: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: list[AsyncConnection] = []  # kept between batches: no pool check-out, ping or reset per batch
        self._closed = False

    async def append(self, entry: AuditEntry) -> None:
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, done))
        self._start_batches()
        # The batch goes on when the caller is cancelled (a client that went away): its entry is written anyway.
        await asyncio.shield(done)

    async def close(self) -> None:
        """Write every queued entry, wait for the batches in flight, then refuse new entries."""
        self._closed = True
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close()

    def _start_batches(self) -> None:
        while self._queue and self._in_flight < self._max_in_flight:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._in_flight += 1
            task = asyncio.create_task(self._write(batch), name="audit-writer-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: list[tuple[AuditEntry, asyncio.Future[None]]]) -> None:
        try:
            try:
                await self._insert([entry for entry, _ in batch])
            except Exception as exc:
                if len(batch) == 1 or _unreachable(exc):
                    for _, done in batch:
                        _fail(done, exc)
                    return
                for entry, done in batch:
                    try:
                        await self._insert([entry])
                    except Exception as single:
                        _fail(done, single)
                    else:
                        _succeed(done)
                return
            for _, done in batch:
                _succeed(done)
        finally:
            self._in_flight -= 1
            if self.on_durable is not None:
                self.on_durable()
            self._start_batches()

    async def _insert(self, entries: list[AuditEntry]) -> None:
        # One autocommit statement: its commit is durable when it returns (synchronous_commit), one round trip.
        kept = bool(self._idle)
        conn = self._idle.pop() if kept else await self._connect()
        try:
            await conn.execute(_INSERT, _entries_param(entries))
        except Exception as exc:
            if not _unreachable(exc):
                self._idle.append(conn)
                raise
            await _discard(conn)
            if not kept:
                raise
            # A kept connection the server dropped while it was idle (a restart, a failover): once more on a
            # fresh one from the pool, which checks what it hands out.
            conn = await self._connect()
            try:
                await conn.execute(_INSERT, _entries_param(entries))
            except Exception as again:
                if _unreachable(again):
                    await _discard(conn)
                else:
                    self._idle.append(conn)
                raise
        self._idle.append(conn)

    async def _connect(self) -> AsyncConnection:
        return await (await self._engine.connect()).execution_options(isolation_level="AUTOCOMMIT")


async def _discard(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()


def _succeed(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    if done.done():
        return
    if _unreachable(exc):
        error: BaseException = DatabaseUnavailable("the database is unavailable")
        error.__cause__ = exc
        done.set_exception(error)
    else:
        done.set_exception(exc)


# --- sealing ---------------------------------------------------------------------------------------------------


async def try_lock_sealer(conn: AsyncConnection) -> bool:
    """Take the sealer lock on this connection's session, without waiting; False when another session holds it.
    The lock outlives transactions: it goes with :func:`unlock_sealer` or when the session ends."""
    return bool((await conn.execute(sa.select(sa.func.pg_try_advisory_lock(SEALER_LOCK_KEY)))).scalar_one())


async def unlock_sealer(conn: AsyncConnection) -> bool:
    return bool((await conn.execute(sa.select(sa.func.pg_advisory_unlock(SEALER_LOCK_KEY)))).scalar_one())


_SEALER_HOLDER = sa.text(
    """
    SELECT l.pid, a.application_name, host(a.client_addr) AS client_addr
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = CAST((:key >> 32) AS oid) AND l.objid = CAST((:key & 4294967295) AS oid) AND l.objsubid = 1
    """
).bindparams(sa.bindparam("key", SEALER_LOCK_KEY, type_=sa.BigInteger))


async def sealer_holder(conn: AsyncConnection) -> str | None:
    """Who holds the sealer lock in this database (backend pid, application name, address), if anyone."""
    row = (await conn.execute(_SEALER_HOLDER)).first()
    if row is None:
        return None
    who = f"PostgreSQL backend {row.pid}"
    if row.application_name:
        who += f" ({row.application_name})"
    if row.client_addr:
        who += f" from {row.client_addr}"
    return who


@dataclass(frozen=True, slots=True)
class Horizon:
    """The highest unsealed id, and the transactions (virtual ids) that were writing to the log when it was read."""

    max_id: int | None
    writers: tuple[str, ...]


# The lock table is read after the statement's snapshot was taken: a transaction that drew an id below max_id
# and had not committed by then holds its write lock (taken before it drew the id) and is among the writers.
_HORIZON = sa.text(
    """
    WITH seen AS (SELECT max(id) AS max_id FROM audit_log WHERE hash IS NULL)
    SELECT max_id,
           CASE WHEN max_id IS NOT NULL THEN ARRAY(
               SELECT DISTINCT l.virtualtransaction FROM pg_locks l
               WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND l.relation = CAST('audit_log' AS regclass)
           ) END AS writers
    FROM seen
    """
)


async def horizon(conn: AsyncConnection) -> Horizon:
    row = (await conn.execute(_HORIZON)).one()
    return Horizon(max_id=row.max_id, writers=tuple(row.writers or ()))


_SEAL = sa.text("SELECT audit_log_seal(:up_to, :max_rows)")


async def seal_up_to(conn: AsyncConnection, up_to: int, *, batch: int = 5000) -> int:
    """Chain up to ``batch`` unsealed entries with ids up to ``up_to``, in the connection's transaction. The
    caller guarantees that no running transaction can still commit an id up to ``up_to`` (see :func:`seal`)."""
    return int((await conn.execute(_SEAL, {"up_to": up_to, "max_rows": batch})).scalar_one())


async def seal(
    conn: AsyncConnection,
    *,
    batch: int = 5000,
    stop: asyncio.Event | None = None,
    waiting: Callable[[int], None] | None = None,
) -> int:
    """Seal every entry committed when this pass starts; return how many. Runs its own short transactions on
    ``conn`` (not inside one); the caller holds the sealer lock (:func:`try_lock_sealer`).

    Waits for the transactions that were writing to the log to end (``waiting(n)`` is told, once, when some are
    still open after two seconds); returns 0 without sealing when ``stop`` is set meanwhile.
    """
    async with conn.begin():
        seen = await horizon(conn)
    if seen.max_id is None:
        return 0
    started = time.monotonic()
    pause = 0.001
    told = False
    writers = seen.writers
    while writers:
        async with conn.begin():
            running = await writers_running(conn, writers)
        if not running:
            break
        if stop is not None and stop.is_set():
            return 0
        if not told and waiting is not None and time.monotonic() - started > 2.0:
            waiting(running)
            told = True
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
    total = 0
    while True:
        async with conn.begin():
            done = await seal_up_to(conn, seen.max_id, batch=batch)
        total += done
        if done < batch:
            return total


@dataclass(frozen=True, slots=True)
class Head:
    """The last sealed entry: the chain up to here verifies or not, whatever is appended later."""

    entry_id: int
    hash: bytes


_HEAD = sa.text(
    """
    SELECT id, hash FROM audit_log
    WHERE id < coalesce((SELECT min(id) FROM audit_log WHERE hash IS NULL), 9223372036854775807)
    ORDER BY id DESC LIMIT 1
    """
)


async def head(conn: AsyncConnection) -> Head | None:
    row = (await conn.execute(_HEAD)).first()
    return None if row is None or row.hash is None else Head(entry_id=row.id, hash=row.hash)


_UNSEALED = sa.text("SELECT count(*) FROM audit_log WHERE hash IS NULL")


async def unsealed(conn: AsyncConnection) -> int:
    return int((await conn.execute(_UNSEALED)).scalar_one())


_ALL_SEALED_UP_TO = sa.text("SELECT NOT EXISTS (SELECT FROM audit_log WHERE hash IS NULL AND id <= :target) AS sealed")


async def wait_until_sealed(conn: AsyncConnection, *, within: float) -> bool:
    """Wait (at most ``within`` seconds) until every entry committed before the call is sealed; True when it
    is. Each poll is a statement of its own, so ``conn`` sees the sealer's commits under READ COMMITTED."""
    target = (await conn.execute(sa.text("SELECT max(id) FROM audit_log"))).scalar_one()
    if target is None:
        return True
    deadline = time.monotonic() + within
    pause = 0.005
    while True:
        if (await conn.execute(_ALL_SEALED_UP_TO, {"target": target})).scalar_one():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.1)


# --- checkpoints -----------------------------------------------------------------------------------------------


class CheckpointSigner(Protocol):
    """What signs a checkpoint: auth.keys.SigningKeys, the key of the JWKS."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def private_key(self) -> ECKey: ...


class InvalidCheckpoint(ValueError):
    """A checkpoint whose signature, key or content does not hold."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain head ``entry_id``/``entry_hash`` as signed at ``signed_at`` by the key ``kid`` of ``issuer``."""

    entry_id: int
    entry_hash: bytes
    signed_at: datetime
    kid: str
    issuer: str
    jws: str

    def export_line(self) -> dict[str, Any]:
        """What the auditor and the city platform keep: the signed JWS, and its content for a reader."""
        return {
            "entry_id": self.entry_id,
            "hash": self.entry_hash.hex(),
            "signed_at": self.signed_at.isoformat(),
            "kid": self.kid,
            "iss": self.issuer,
            "jws": self.jws,
        }


def sign_checkpoint(at: Head, signer: CheckpointSigner, *, issuer: str, now: datetime | None = None) -> Checkpoint:
    signed_at = (now or datetime.now(UTC)).astimezone(UTC)
    payload = {
        "iss": issuer,
        "entry_id": at.entry_id,
        "hash": at.hash.hex(),
        "signed_at": signed_at.isoformat(),
    }
    header = {"alg": signer.alg, "kid": signer.kid, "typ": CHECKPOINT_TYPE}
    token = jws.serialize_compact(header, orjson.dumps(payload), signer.private_key(), algorithms=[signer.alg])
    return Checkpoint(at.entry_id, at.hash, signed_at, signer.kid, issuer, token)


def open_checkpoint(token: str, jwks: dict[str, Any]) -> Checkpoint:
    """Check the signature of a checkpoint against a JWK Set (as served at ``/.well-known/jwks.json``) and read
    it; raises :class:`InvalidCheckpoint`."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        signed = jws.deserialize_compact(token.strip(), keys, algorithms=["ES256"])
        headers = signed.headers()
        if headers.get("typ") != CHECKPOINT_TYPE:
            raise InvalidCheckpoint(f"not an audit checkpoint (typ {headers.get('typ')!r})")
        body = orjson.loads(signed.payload)
        return Checkpoint(
            entry_id=int(body["entry_id"]),
            entry_hash=bytes.fromhex(body["hash"]),
            signed_at=datetime.fromisoformat(body["signed_at"]),
            kid=str(headers.get("kid")),
            issuer=str(body.get("iss", "")),
            jws=token.strip(),
        )
    except InvalidCheckpoint:
        raise
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise InvalidCheckpoint(f"{type(exc).__name__}: {exc}"[:300]) from exc


def checkpoint_tokens(text: str) -> list[str]:
    """The JWS of each line of an exported file (JSON lines of :meth:`Checkpoint.export_line`, or bare JWS)."""
    tokens = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            tokens.append(str(orjson.loads(line)["jws"]))
        else:
            tokens.append(line)
    return tokens


async def store_checkpoint(conn: AsyncConnection, checkpoint: Checkpoint) -> None:
    await conn.execute(
        audit_checkpoints.insert().values(
            entry_id=checkpoint.entry_id,
            entry_hash=checkpoint.entry_hash,
            signed_at=checkpoint.signed_at,
            kid=checkpoint.kid,
            jws=checkpoint.jws,
        )
    )


async def checkpoint(
    conn: AsyncConnection, signer: CheckpointSigner, *, issuer: str, now: datetime | None = None
) -> Checkpoint | None:
    """Sign the current head and store it, in the connection's transaction; None when nothing is sealed yet."""
    at = await head(conn)
    if at is None:
        return None
    signed = sign_checkpoint(at, signer, issuer=issuer, now=now)
    await store_checkpoint(conn, signed)
    return signed


async def stored_checkpoint_tokens(conn: AsyncConnection, *, after_entry: int | None = None) -> list[str]:
    query = sa.select(audit_checkpoints.c.jws).order_by(audit_checkpoints.c.id)
    if after_entry is not None:
        query = query.where(audit_checkpoints.c.entry_id > after_entry)
    return [r.jws for r in await conn.execute(query)]


async def latest_checkpoint(conn: AsyncConnection) -> tuple[int, datetime] | None:
    """The entry and time of the newest stored checkpoint."""
    c = audit_checkpoints.c
    row = (await conn.execute(sa.select(c.entry_id, c.signed_at).order_by(c.id.desc()).limit(1))).first()
    return None if row is None else (row.entry_id, row.signed_at)


# --- the sealer task -------------------------------------------------------------------------------------------


class Sealer:
    """An API process's background sealer: whichever process holds the sealer lock seals, the others stand by
    and try again every ``standby`` seconds, so a sealer that dies is replaced within that time.

    The holder seals whenever it is woken (:meth:`wake`, called by the process's :class:`AuditWriter`) and at
    least every ``interval`` seconds; after a pass that sealed something it rests ``rest`` seconds, so that
    under load each pass (a few statements and a commit) chains a batch, not an entry. With a ``signer`` it
    stores a checkpoint of the head when there is none and then every ``checkpoint_every`` seconds while the
    head moves. Give it an engine of its own (one connection, an ``application_name`` that names it): it never
    takes a request's connection, and its session, which holds the lock, is never handed to anyone else.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: CheckpointSigner | None = None,
        issuer: str = "",
        interval: float = 0.2,
        rest: float = 0.05,
        standby: float = 2.0,
        checkpoint_every: float = 300.0,
        batch: int = 5000,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._issuer = issuer
        self._interval = interval
        self._rest = rest
        self._standby = standby
        self._checkpoint_every = checkpoint_every
        self._batch = batch
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sealing = False  # whether this process holds the lock now

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="audit-sealer")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        self._wake.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(asyncio.shield(task), 5.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                async with self._engine.connect() as conn:
                    async with conn.begin():
                        locked = await try_lock_sealer(conn)
                    if locked:
                        try:
                            await self._seal_while_holding(conn)
                        finally:
                            self.sealing = False
                            with contextlib.suppress(Exception):
                                async with conn.begin():
                                    await unlock_sealer(conn)
            except Exception as exc:  # a dropped connection, a failed pass: stand by, then try again
                log.warning("audit sealer retrying", error=type(exc).__name__, detail=str(exc)[:200])
            # Not woken by appends: a process standing by only asks for the lock again every so often.
            await self._sleep(self._standby)

    async def _seal_while_holding(self, conn: AsyncConnection) -> None:
        self.sealing = True
        while not self._stop.is_set():
            self._wake.clear()
            sealed = await seal(conn, batch=self._batch, stop=self._stop, waiting=self._waiting)
            if self._signer is not None:
                await self._checkpoint_if_due(conn, self._signer)
            if sealed:
                await self._sleep(self._rest)
            else:
                await self._pause(self._interval)

    def _waiting(self, running: int) -> None:
        log.info("audit sealer waiting for open transactions that write to the log", transactions=running)

    async def _checkpoint_if_due(self, conn: AsyncConnection, signer: CheckpointSigner) -> None:
        async with conn.begin():
            last = await latest_checkpoint(conn)
            at = await head(conn)
            if at is None:
                return
            if last is not None:
                entry_id, signed_at = last
                if entry_id >= at.entry_id or (datetime.now(UTC) - signed_at).total_seconds() < self._checkpoint_every:
                    return
            await store_checkpoint(conn, sign_checkpoint(at, signer, issuer=self._issuer))

    async def _pause(self, seconds: float) -> None:
        """Until woken, stopped, or ``seconds`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _sleep(self, seconds: float) -> None:
        """Until stopped or ``seconds`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


# --- verification ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckpointFailure:
    entry_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """``entries`` sealed entries walked, ``first_broken_id`` the first that does not hold (an entry left out of
    the chain counts), ``unsealed`` entries not chained yet, ``checkpoints`` checked against the chain."""

    entries: int
    first_broken_id: int | None
    unsealed: int = 0
    head: Head | None = None
    checkpoints: int = 0
    checkpoint_failures: tuple[CheckpointFailure, ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None and not self.checkpoint_failures


_WALK = sa.text(
    """
    SELECT id, hash,
           prev_hash = coalesce(lag(hash) OVER (ORDER BY id), decode(repeat('00', 32), 'hex'))
             AND hash = audit_entry_digest(prev_hash, audit_log) AS ok
    FROM audit_log ORDER BY id
    """
)


async def verify(conn: AsyncConnection, checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Walk the chain in id order: every sealed entry links to the one before and its digest holds, sealed
    entries come before unsealed ones, and the chain passes through every checkpoint (the entry it names exists,
    is sealed, and has the hash that was signed)."""
    wanted: dict[int, list[Checkpoint]] = {}
    for c in checkpoints:
        wanted.setdefault(c.entry_id, []).append(c)
    count = unsealed_count = 0
    first_broken: int | None = None
    first_unsealed: int | None = None
    last: Head | None = None
    failures: list[CheckpointFailure] = []
    checked = 0
    rows = await conn.stream(_WALK.execution_options(yield_per=5000))
    async for r in rows:
        if r.hash is None:
            unsealed_count += 1
            if first_unsealed is None:
                first_unsealed = r.id
        else:
            count += 1
            last = Head(r.id, r.hash)
            if first_broken is None and (first_unsealed is not None or not r.ok):
                first_broken = first_unsealed if first_unsealed is not None else r.id
        for c in wanted.pop(r.id, ()):
            checked += 1
            if r.hash is None:
                failures.append(CheckpointFailure(c.entry_id, "the entry is not sealed"))
            elif r.hash != c.entry_hash:
                failures.append(CheckpointFailure(c.entry_id, "the entry's hash is not the one signed"))
    for entry_id, missing in wanted.items():
        checked += len(missing)
        failures.extend(CheckpointFailure(entry_id, "the entry is missing") for _ in missing)
    failures.sort(key=lambda f: f.entry_id)
    return ChainReport(
        entries=count,
        first_broken_id=first_broken,
        unsealed=unsealed_count,
        head=last,
        checkpoints=checked,
        checkpoint_failures=tuple(failures),
    )


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: Any
    request_id: str | None
    actor: str
    audience: str | None
    operation: str
    operation_type: str
    subject_ids: list[int]
    fields_returned: list[str]
    fields_refused: list[str]
    purpose: str | None
    outcome: str
    hash: bytes


async def page(
    conn: AsyncConnection, *, first: int, before_id: int | None, subject_id: int | None, actor: str | None
) -> list[AuditRow]:
    """Sealed entries, newest first; one row more than asked tells whether an older page exists. An entry not
    chained yet has no hash to show: it appears once sealed (see :func:`wait_until_sealed`)."""
    c = audit_log.c
    query = (
        sa.select(*[c[f] for f in AuditRow.__slots__]).where(c.hash.is_not(None)).order_by(c.id.desc()).limit(first + 1)
    )
    if before_id is not None:
        query = query.where(c.id < before_id)
    if subject_id is not None:
        query = query.where(c.subject_ids.any(subject_id))
    if actor is not None:
        query = query.where(c.actor == actor)
    return [AuditRow(**{f: r._mapping[f] for f in AuditRow.__slots__}) for r in await conn.execute(query)]
