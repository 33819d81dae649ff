"""Sealing the audit log: the sealer lock, one sealing pass, and the state of the chain (store.audit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from store.outbox import writers_running

# The key of the session-level advisory lock the sealer holds while it is the sealer ("hrssseal" in ASCII).
SEALER_LOCK_KEY = 0x6872_7373_7365_616C
GENESIS = bytes(32)  # the prev_hash of the first entry


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
_CHECK_BELOW_HEAD = sa.text("SELECT audit_log_check_below_head()")


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
    check_below_head: bool = True,
) -> int:
    """Seal every entry committed when this pass starts; return how many. Runs its own short transactions on
    ``conn`` (not inside one); the caller holds the sealer lock (:func:`try_lock_sealer`).

    With ``check_below_head`` it first makes sure no entry below the head is unsealed, a walk of the unsealed
    index that costs more the longer the log has gone unvacuumed: the background sealer asks for it every few
    seconds, not every pass. Waits for the transactions that were writing to the log to end (``waiting(n)`` is told, once, when some are
    still open after two seconds); returns 0 without sealing when ``stop`` is set meanwhile.
    """
    if check_below_head:
        # Raises when an entry below the head is unsealed (its hash cleared by hand): chaining on would hide it.
        async with conn.begin():
            await conn.execute(_CHECK_BELOW_HEAD)
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


_LAG = sa.text(
    "SELECT count(*) AS entries, extract(epoch FROM clock_timestamp() - min(at)) AS oldest_seconds"
    " FROM audit_log WHERE hash IS NULL"
)


async def lag(conn: AsyncConnection) -> tuple[int, float]:
    """How many entries wait to be sealed and the age in seconds of the oldest (0 when none waits); the partial
    index of the unsealed entries keeps it to them."""
    row = (await conn.execute(_LAG)).one()
    return int(row.entries), float(row.oldest_seconds or 0.0)


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
