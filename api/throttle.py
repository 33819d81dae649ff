"""The authorization server's brute-force throttle on PostgreSQL (store.auth_failures), shared by every API
process: a counter in one process's memory would let a guesser multiply its attempts by the process count."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from api.engine_bound import EngineBound
from auth.throttle import ThrottleKey
from store import auth_failures

__all__ = ["DatabaseThrottle"]


def _at(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


class DatabaseThrottle(EngineBound):
    """A :class:`auth.throttle.FailureThrottle` on the API's engine, which the lifespan :meth:`bind` s."""

    what = "the throttle"

    def __init__(self, *, limit: int, address_limit: int, window_seconds: int) -> None:
        super().__init__()
        self._limits = {"client": limit, "user": limit, "addr": address_limit}
        self._window = timedelta(seconds=window_seconds)

    async def retry_after(self, keys: Sequence[ThrottleKey], *, now: float) -> float | None:
        at = _at(now)
        async with self.engine.connect() as conn:
            until = await auth_failures.blocked_until(conn, [(k.kind, k.value) for k in keys], now=at)
        return None if until is None else (until - at).total_seconds()

    async def failed(self, keys: Sequence[ThrottleKey], *, now: float) -> None:
        counted = [(k.kind, k.value, self._limits[k.kind]) for k in keys]
        async with self.engine.begin() as conn:
            await auth_failures.record(conn, counted, now=_at(now), window=self._window)

    async def succeeded(self, keys: Sequence[ThrottleKey]) -> None:
        async with self.engine.begin() as conn:
            await auth_failures.reset(conn, [(k.kind, k.value) for k in keys])
