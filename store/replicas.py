"""Reads from hot standbys: which replica a read goes to, and when a replica is skipped.

A read-only statement (the compiled check and screen) or a read-only request (a GraphQL query on the resolvers)
is served by a streaming replica whose replay is within the lag bound; every write, every read of a request that
writes, and every read while no replica qualifies goes to the primary. A replica that fails a read (gone, restarting,
a query cancelled by a recovery conflict) loses that read to the primary, never fails it, and is retried by the
monitor, which takes it back once it answers within the bound.

**Lag.** Every ``check_seconds`` the monitor samples the primary's WAL position (``pg_current_wal_lsn``) and then
each replica's replay position (``pg_last_wal_replay_lsn``). A replica's lag is the time since the primary was at
the newest sampled position the replica has replayed: a replica that has replayed what the primary had written
when this check began is a few milliseconds behind, one that is still replaying the previous sample's is up to one
interval behind, and so on. That needs no clock shared between hosts, and an idle primary does not make its
replicas look lagged, as ``now() - pg_last_xact_replay_timestamp()`` does while nothing commits. The measure is an
upper bound, to within one interval: between two checks a replica is taken at its last check's word.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from store.read_pool import ReadPool
from store.session import read_elsewhere, replica_failed

log = structlog.get_logger("hrss_credit.replicas")

_PRIMARY_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
_REPLICA_POSITION = (
    "SELECT pg_is_in_recovery() AS standby, (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed"
)


def display_name(url: str) -> str:
    """A replica's name in logs and metrics: host, port and database, never its password."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    host = parsed.host or str(parsed.query.get("host", "local"))
    return f"{host}:{parsed.port or 5432}/{parsed.database or ''}"


@dataclass(eq=False)
class Replica:
    """One hot standby: the compiled reads' pool (the monitor checks it through the same pool) and the
    resolvers' engine, with its state as of the last check."""

    name: str
    pool: ReadPool
    engine: AsyncEngine | None = None
    up: bool = False
    lag_seconds: float | None = None  # None: not measured (unreachable, or behind every sample kept)
    behind_bytes: int | None = None
    reason: str = "not checked yet"
    served: int = 0  # reads it answered
    failed: int = 0  # reads it lost to the primary


@dataclass
class _Sample:
    when: float
    position: int


@dataclass(eq=False)
class ReplicaSet:
    """The configured replicas, the lag bound and the monitor; ``pick()`` is the routing decision."""

    replicas: Sequence[Replica]
    primary: ReadPool
    max_lag_seconds: float = 5.0
    check_seconds: float = 1.0
    check_timeout_seconds: float = 2.0
    clock: Callable[[], float] = time.monotonic
    to_primary: int = 0  # reads that found no replica to take them
    _samples: deque[_Sample] = field(init=False)
    _turn: itertools.cycle[int] = field(init=False)
    _task: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.replicas:
            raise ValueError("a replica set needs at least one replica")
        if not 0 < self.check_seconds <= self.max_lag_seconds:
            raise ValueError("the check interval must be positive and no longer than the lag bound")
        # Enough samples to measure any lag up to the bound, with room for a late check.
        self._samples = deque(maxlen=math.ceil(self.max_lag_seconds / self.check_seconds) + 3)
        self._turn = itertools.cycle(range(len(self.replicas)))

    def pick(self) -> Replica | None:
        """The next usable replica in turn, or None: the read goes to the primary."""
        for _ in range(len(self.replicas)):
            replica = self.replicas[next(self._turn)]
            if replica.up:
                return replica
        self.to_primary += 1
        return None

    def drop(self, replica: Replica, exc: BaseException) -> None:
        """Take a replica out of the rotation after a failed read; the monitor brings it back."""
        replica.failed += 1
        if replica.up:
            replica.up = False
            replica.reason = f"a read failed: {type(exc).__name__}"
            log.warning("replica dropped", replica=replica.name, error=type(exc).__name__)

    async def check(self) -> None:
        """Sample the primary, then every replica; a replica is up when it is a standby within the bound."""
        await self._sample_primary()
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))

    async def _sample_primary(self) -> None:
        try:
            async with asyncio.timeout(self.check_timeout_seconds), self.primary.acquire() as conn:
                position = await conn.fetchval(_PRIMARY_POSITION)
        except Exception as exc:  # the primary's outage: keep the old samples, and replicas age against them
            log.warning("primary WAL position unavailable", error=type(exc).__name__)
            return
        self._samples.append(_Sample(self.clock(), int(position)))

    async def _check(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(self.check_timeout_seconds), replica.pool.acquire() as conn:
                row = await conn.fetchrow(_REPLICA_POSITION)
        except Exception as exc:  # unreachable, starting up, refusing: out of the rotation until it answers
            self._set(replica, up=False, reason=f"unreachable: {type(exc).__name__}", lag=None, behind=None)
            return
        if not row["standby"] or row["replayed"] is None:
            self._set(replica, up=False, reason="not a standby in recovery", lag=None, behind=None)
            return
        replayed = int(row["replayed"])
        lag = self.lag_of(replayed)
        behind = max(self._samples[-1].position - replayed, 0) if self._samples else None
        if lag is None:
            self._set(replica, up=False, reason="behind every position sampled", lag=None, behind=behind)
        elif lag > self.max_lag_seconds:
            self._set(replica, up=False, reason=f"lag {lag:.1f} s over the bound", lag=lag, behind=behind)
        else:
            self._set(replica, up=True, reason="streaming", lag=lag, behind=behind)

    def lag_of(self, replayed: int) -> float | None:
        """Seconds since the primary was at the newest sampled position ``replayed`` reaches; None when it reaches
        none of the samples kept (its lag is then longer than they go back) or there is no sample yet."""
        now = self.clock()
        for sample in reversed(self._samples):
            if replayed >= sample.position:
                return max(now - sample.when, 0.0)
        return None

    def _set(self, replica: Replica, *, up: bool, reason: str, lag: float | None, behind: int | None) -> None:
        if up != replica.up:
            log.info("replica up" if up else "replica out of rotation", replica=replica.name, reason=reason)
        replica.up, replica.reason, replica.lag_seconds, replica.behind_bytes = up, reason, lag, behind

    def start(self) -> None:
        self._task = asyncio.create_task(self._monitor(), name="replica monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _monitor(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as exc:  # a defect in a check must not end the monitor: log it, check again
                log.error("replica check failed", error=repr(exc))
            await asyncio.sleep(self.check_seconds)


class Reads:
    """Where the compiled reads' statements run: a usable replica, else the primary's pool."""

    def __init__(self, primary: ReadPool, replicas: ReplicaSet | None = None) -> None:
        self.primary = primary
        self.replicas = replicas

    @property
    def size(self) -> int:
        return self.primary.size

    @property
    def idle(self) -> int:
        return self.primary.idle

    async def on_replica(self, sql: str, *args: Any) -> tuple[bool, Any]:
        """``(True, row)`` when a replica answered the statement, ``(False, None)`` when none did (none usable,
        or the one tried failed and was dropped): the caller then runs it on the primary."""
        if self.replicas is None:
            return False, None
        replica = self.replicas.pick()
        if replica is None:
            return False, None
        try:
            async with replica.pool.acquire() as conn:
                row = await conn.fetchrow(sql, *args)
        except Exception as exc:
            if not read_elsewhere(exc):
                raise
            if replica_failed(exc):
                self.replicas.drop(replica, exc)
            else:
                replica.failed += 1
            return False, None
        replica.served += 1
        return True, row

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        """One read-only statement's row, from a replica when one answers, else from the primary."""
        answered, row = await self.on_replica(sql, *args)
        if answered:
            return row
        async with self.primary.acquire() as conn:
            return await conn.fetchrow(sql, *args)
