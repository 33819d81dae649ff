"""What the authorization server needs from a brute-force throttle, and the keys it counts failures under.

The server asks before it verifies a client secret or an employer password, and reports each failure and
success; where the counts live is the caller's choice (the API wires in a PostgreSQL-backed one, shared by
every process). ``now`` is seconds since the epoch from the server's injectable clock. :class:`ThrottleGate`
is how the endpoints ask and report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, TypeVar

__all__ = ["FailureThrottle", "ThrottleGate", "ThrottleKey", "address_key", "client_key", "user_key"]

# Every line of the built-in authorization server goes to one logger, which log filters and alerts name.
log = logging.getLogger("auth.server")

_Answer = TypeVar("_Answer")  # what an endpoint answers with; the gate only passes it on


class ThrottleKey(NamedTuple):
    kind: str  # "client", "user" or "addr"
    value: str


def client_key(client_id: str) -> ThrottleKey:
    return ThrottleKey("client", client_id)


def user_key(username: str) -> ThrottleKey:
    """``username`` already normalized: every spelling of one account shares one counter."""
    return ThrottleKey("user", username)


def address_key(address: str) -> ThrottleKey:
    return ThrottleKey("addr", address)


class FailureThrottle(Protocol):
    async def retry_after(self, keys: Sequence[ThrottleKey], *, now: float) -> float | None:
        """Seconds until the last block among ``keys`` ends, or ``None`` when none is blocked."""
        ...

    async def failed(self, keys: Sequence[ThrottleKey], *, now: float) -> None:
        """Count one failed attempt for each of ``keys``."""
        ...

    async def succeeded(self, keys: Sequence[ThrottleKey]) -> None:
        """Forget the failures of ``keys`` after a successful attempt."""
        ...


class ThrottleGate:
    """The endpoints' side of a :class:`FailureThrottle` (``None``: nothing is ever throttled).

    It fails closed: while the counts are unreachable every attempt is refused, rather than let guessing run
    unthrottled.
    """

    def __init__(self, throttle: FailureThrottle | None, *, clock: Callable[[], float]) -> None:
        self._throttle = throttle
        self._clock = clock

    async def refuse(
        self, keys: Sequence[ThrottleKey], respond: Callable[[int], _Answer], unavailable: Callable[[], _Answer]
    ) -> _Answer | None:
        """``respond(retry_after)`` when one of ``keys`` is blocked, ``unavailable()`` when the throttle cannot
        answer, ``None`` when the attempt may go ahead."""
        if self._throttle is None:
            return None
        try:
            wait = await self._throttle.retry_after(keys, now=self._clock())
        except Exception:  # the counts are unreachable: refuse rather than let guessing run unthrottled
            log.exception("the authentication throttle is unavailable")
            return unavailable()
        if wait is None:
            return None
        log.warning("authentication throttled for %s", ", ".join(k.kind for k in keys))
        return respond(max(1, math.ceil(wait)))

    async def count(self, keys: Sequence[ThrottleKey], *, failed: bool) -> None:
        if self._throttle is None or not keys:
            return
        try:
            if failed:
                await self._throttle.failed(keys, now=self._clock())
            else:
                await self._throttle.succeeded(keys)
        except Exception:  # the answer is decided; the next attempt's check refuses while counts are unreachable
            log.exception("the authentication throttle could not record an attempt")
