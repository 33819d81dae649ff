"""Restriction status changes, fanned out to every API process with PostgreSQL LISTEN/NOTIFY.

A write that changes whether a subject is restricted in a sector today publishes the change with
``pg_notify`` in its own transaction, so it is delivered when (and only if) the write commits. Each API process
keeps one listening connection (``RestrictionFeed``) and hands every change to the subscriptions it serves,
whichever process wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from store.db import asyncpg_connect_kwargs
from store.session import DatabaseUnavailable

CHANNEL = "hrss_restriction_changed"
QUEUE_SIZE = 1000

log = structlog.get_logger("hrss_credit.notify")


@dataclass(frozen=True, slots=True)
class RestrictionStatusChange:
    subject_id: int
    sector: str
    restricted: bool


@dataclass(frozen=True, slots=True)
class RestrictionEvent:
    subject_id: int
    sector: str
    restricted: bool
    at: datetime


async def publish(conn: AsyncConnection, changes: Sequence[RestrictionStatusChange]) -> None:
    """Queue the changes for delivery at commit (one notification each: payloads stay far below 8000 bytes)."""
    if not changes:
        return
    payloads = [orjson.dumps(asdict(c)).decode() for c in changes]
    await conn.execute(
        sa.text("SELECT pg_notify(:channel, payload) FROM unnest(CAST(:payloads AS text[])) AS payload"),
        {"channel": CHANNEL, "payloads": payloads},
    )


class RestrictionFeed:
    """One LISTEN connection per process, fanned out to per-subscription queues; reconnects when it drops.

    While the connection is down, changes may be missed: each subscription is then told so (``None`` in its
    queue) rather than left waiting on a feed that is silently incomplete, and a new subscription is refused
    until the feed listens again (``DatabaseUnavailable``).
    """

    def __init__(self, url: str, *, start_timeout: float = 5.0) -> None:
        self._url = url
        self._queues: set[asyncio.Queue[RestrictionEvent | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._state = ListenerState()
        self._start_timeout = start_timeout

    async def start(self) -> None:
        """Return once the feed listens; raise ``DatabaseUnavailable`` if it cannot now."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="restriction-feed")
        if not await self._state.wait_listening(self._start_timeout):
            raise DatabaseUnavailable("the restriction feed cannot listen")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel(self._task)
            self._task = None

    def subscribe(self) -> asyncio.Queue[RestrictionEvent | None]:
        queue: asyncio.Queue[RestrictionEvent | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[RestrictionEvent | None]) -> None:
        self._queues.discard(queue)

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = orjson.loads(payload)
            event = RestrictionEvent(
                subject_id=int(data["subject_id"]),
                sector=str(data["sector"]),
                restricted=bool(data["restricted"]),
                at=datetime.now(UTC),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("malformed restriction notification")
            return
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a subscriber that does not read loses events rather than memory
                log.warning("restriction subscriber too slow: event dropped", subject_id=event.subject_id)

    def _lost(self) -> None:
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._queues.clear()

    async def _listen(self) -> None:
        await listen(self._url, CHANNEL, self._deliver, state=self._state, on_lost=self._lost, what="restriction feed")


class ListenerState:
    """Whether a listener is connected, and a way to ask it to retry at once rather than after its backoff."""

    def __init__(self) -> None:
        self.listening = asyncio.Event()
        self.attempted = asyncio.Event()  # set after each connection attempt, whatever its outcome
        self.retry_now = asyncio.Event()

    async def wait_listening(self, seconds: float) -> bool:
        """Wait for the current or next connection attempt; True if the listener is then connected."""
        if self.listening.is_set():
            return True
        self.attempted.clear()
        self.retry_now.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.attempted.wait(), seconds)
        return self.listening.is_set()


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel a background task (a listener, a drainer) and wait until it has ended."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def listen(
    url: str,
    channel: str,
    callback: Callable[[Any, int, str, str], None],
    *,
    state: ListenerState | None = None,
    on_lost: Callable[[], None] | None = None,
    what: str,
) -> None:
    """Keep one connection LISTENing on ``channel`` until cancelled, handing every notification to ``callback``
    (asyncpg's listener signature); reconnects with backoff when the connection drops or is refused. ``state``
    follows every connection, and ``on_lost`` is called when a listening connection drops (notifications sent
    meanwhile are lost)."""
    import asyncpg  # type: ignore[import-untyped]

    state = state or ListenerState()
    delay = 0.5
    while True:
        try:
            conn = await asyncpg.connect(**asyncpg_connect_kwargs(url))
            closed = asyncio.Event()
            try:
                conn.add_termination_listener(lambda _conn, closed=closed: closed.set())
                await conn.add_listener(channel, callback)
                state.listening.set()
                state.attempted.set()
                delay = 0.5
                await closed.wait()
            finally:
                if state.listening.is_set():
                    state.listening.clear()
                    if on_lost is not None:
                        on_lost()
                with contextlib.suppress(Exception):
                    await conn.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a dropped or refused connection: retry with backoff
            log.warning("listener reconnecting", listener=what, channel=channel, error=type(exc).__name__)
            state.attempted.set()
            state.retry_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.retry_now.wait(), delay)
            delay = min(delay * 2, 10)
