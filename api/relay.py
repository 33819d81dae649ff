"""The outbox relay: delivers the outbox to the city credit platform, at least once and in outbox order.

One relay runs at a time (a PostgreSQL advisory lock held for the whole run, on the one connection the relay
uses). Each event is POSTed as JSON with ``Idempotency-Key: <event_id>``, so the platform can drop the duplicates
at-least-once delivery implies; each delivery is recorded in its own short transaction, so a crash loses at most
the event in flight, which the next run delivers again.

- 2xx: delivered (``pushed_at`` set, the attempt counted).
- 5xx, 408, 409, 429, timeouts and connection errors: retried with capped exponential backoff and jitter
  (``Retry-After`` honoured up to the cap); after ``max_attempts`` attempts in this run the relay stops.
- any other status: a permanent failure; the relay stops at that event, since skipping it would break the order.

Every failed attempt is counted in ``attempts`` with its ``last_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import outbox
from store.outbox import LockHolder, OutboxEvent
from store.pii import PiiCipher

USER_AGENT = "hrss-credit-outbox-relay/1"
RETRYABLE_STATUSES = frozenset({408, 409, 429})
_WRITER_WAIT_NOTICE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class RelayConfig:
    url: str
    follow: bool = False
    max_attempts: int = 10  # per event and run; 0: no limit
    backoff: float = 0.5  # seconds before the first retry; doubles with each further one
    backoff_max: float = 60.0
    timeout: float = 10.0  # per request
    poll_interval: float = 2.0  # --follow: pause when nothing is pending
    batch: int = 100  # pending events read per query


@dataclass(slots=True)
class RelaySummary:
    delivered: int = 0
    failed_attempts: int = 0
    stopped_by_signal: bool = False


class RelayError(Exception):
    """The relay stopped without delivering everything it was asked to."""


class RelayLocked(RelayError):
    def __init__(self, holder: LockHolder | None) -> None:
        self.holder = holder
        if holder is None:
            who = "another session (it may just have ended; try again)"
        else:
            who = f"PostgreSQL backend {holder.pid}"
            if holder.application_name:
                who += f" ({holder.application_name})"
            if holder.client_addr:
                who += f" from {holder.client_addr}"
            if holder.backend_start:
                who += f", connected since {holder.backend_start.isoformat(timespec='seconds')}"
        super().__init__(f"another outbox relay is running: the relay lock is held by {who}")


class DeliveryStopped(RelayError):
    def __init__(self, event: OutboxEvent, error: str, *, permanent: bool, attempts: int) -> None:
        self.event = event
        self.error = error
        self.permanent = permanent
        self.attempts = attempts
        what = "refused permanently" if permanent else f"still failing after {attempts} attempts"
        super().__init__(
            f"event #{event.id} ({event.topic}, event_id {event.event_id}) {what}: {error}; "
            "the relay stopped there so that no later event overtakes it; fix the cause and run it again"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    permanent: bool = False
    error: str = ""
    retry_after: float | None = None


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """The pause after the ``attempt``-th failure: exponential, capped, with "equal jitter" (half fixed, half random),
    so it always grows with the attempts and relays that failed together do not retry together."""
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2 + rng() * ceiling / 2


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(response: httpx.Response) -> Outcome:
    """What a response means for the event it answers."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(delivered=True)
    excerpt = " ".join(response.text[:300].split())
    error = f"HTTP {status} {response.reason_phrase}" + (f": {excerpt}" if excerpt else "")
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Outcome(delivered=False, error=error, retry_after=_retry_after(response.headers.get("Retry-After")))
    return Outcome(delivered=False, permanent=True, error=error)


async def post_event(client: httpx.AsyncClient, url: str, event: OutboxEvent) -> Outcome:
    """POST one event; transport failures become retryable outcomes."""
    try:
        response = await client.post(
            url,
            content=orjson.dumps(event.body()),
            headers={"Content-Type": "application/json", "Idempotency-Key": str(event.event_id)},
        )
    except httpx.TimeoutException as exc:
        return Outcome(delivered=False, error=f"timeout ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return Outcome(delivered=False, error=f"connection error ({type(exc).__name__}: {exc})")
    return classify(response)


class _Stopped(Exception):
    pass


class Relay:
    def __init__(
        self,
        engine: AsyncEngine,
        config: RelayConfig,
        *,
        pii: PiiCipher,
        say: Callable[[str], None] = lambda _: None,
        stop: asyncio.Event | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.config = config
        self.pii = pii  # decrypts the ID numbers that name individuals in the events (store.outbox)
        self.say = say
        self.stop = stop or asyncio.Event()
        self.transport = transport
        self.rng = rng
        self.summary = RelaySummary()

    async def run(self) -> RelaySummary:
        """Deliver what is pending (``--once``) or keep delivering (``follow``) until stopped; raises
        :class:`RelayLocked` when another relay runs, :class:`DeliveryStopped` when an event cannot be delivered
        and store.outbox's ``UnresolvedSubject`` when an event cannot name its subject."""
        async with self.engine.connect() as conn:
            async with conn.begin():
                locked = await outbox.try_lock_relay(conn)
                holder = None if locked else await outbox.relay_lock_holder(conn)
            if not locked:
                raise RelayLocked(holder)
            async with conn.begin():
                await outbox.relax_commit_durability(conn)  # one commit per event, and the next event waits on it
            try:
                async with httpx.AsyncClient(
                    timeout=self.config.timeout, headers={"User-Agent": USER_AGENT}, transport=self.transport
                ) as client:
                    await self._loop(conn, client)
            except _Stopped:
                pass
            finally:
                # Closing the connection would release the lock too; a broken connection has lost it already.
                with contextlib.suppress(Exception):
                    async with conn.begin():
                        await outbox.unlock_relay(conn)
        self.summary.stopped_by_signal = self.stop.is_set()
        return self.summary

    async def _loop(self, conn: AsyncConnection, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            delivered = await self._round(conn, client)
            if not self.config.follow:
                return
            if delivered:
                self.say(f"delivered {delivered} events")
            else:
                await self._sleep(self.config.poll_interval)

    async def _round(self, conn: AsyncConnection, client: httpx.AsyncClient) -> int:
        """Deliver every event pending now, once no transaction can still add one with a lower id."""
        async with conn.begin():
            horizon = await outbox.delivery_horizon(conn)
        if horizon.max_id is None:
            return 0
        await self._wait_for_writers(conn, horizon.writers)
        delivered = 0
        while not self.stop.is_set():
            async with conn.begin():
                events = await outbox.pending(conn, self.config.batch, up_to=horizon.max_id, pii=self.pii)
            if not events:
                break
            for event in events:
                if self.stop.is_set():
                    break
                await self._deliver(conn, client, event)
                delivered += 1
        return delivered

    async def _wait_for_writers(self, conn: AsyncConnection, writers: tuple[str, ...]) -> None:
        started = time.monotonic()
        pause = 0.01
        noticed = False
        while writers:
            async with conn.begin():
                running = await outbox.writers_running(conn, writers)
            if not running:
                return
            if not noticed and time.monotonic() - started > _WRITER_WAIT_NOTICE_SECONDS:
                self.say(f"waiting for {running} open transactions that write to the outbox to end")
                noticed = True
            await self._sleep(pause)
            if self.stop.is_set():
                raise _Stopped
            pause = min(pause * 2, 0.5)

    async def _deliver(self, conn: AsyncConnection, client: httpx.AsyncClient, event: OutboxEvent) -> None:
        attempt = 0
        while True:
            attempt += 1
            outcome = await post_event(client, self.config.url, event)
            if outcome.delivered:
                async with conn.begin():
                    marked = await outbox.mark_pushed(conn, [event.id])
                if not marked:
                    self.say(f"event #{event.id} was already marked pushed by another session")
                self.summary.delivered += 1
                return
            self.summary.failed_attempts += 1
            async with conn.begin():
                await outbox.mark_failed(conn, event.id, outcome.error)
            if outcome.permanent:
                raise DeliveryStopped(event, outcome.error, permanent=True, attempts=attempt)
            if self.config.max_attempts and attempt >= self.config.max_attempts:
                raise DeliveryStopped(event, outcome.error, permanent=False, attempts=attempt)
            delay = backoff_delay(attempt, self.config.backoff, self.config.backoff_max, self.rng)
            if outcome.retry_after is not None:
                delay = max(delay, min(outcome.retry_after, self.config.backoff_max))
            limit = f" of {self.config.max_attempts}" if self.config.max_attempts else ""
            self.say(f"event #{event.id}: {outcome.error}; attempt {attempt}{limit}, retrying in {delay:.2f} s")
            await self._sleep(delay)
            if self.stop.is_set():
                raise _Stopped

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when the relay is told to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
