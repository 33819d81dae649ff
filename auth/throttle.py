"""What the authorization server needs from a brute-force throttle, and the keys it counts failures under.

The server asks before it verifies a client secret or an employer password, and reports each failure and
success; where the counts live is the caller's choice (the API wires in a PostgreSQL-backed one, shared by
every process). ``now`` is seconds since the epoch from the server's injectable clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = ["FailureThrottle", "ThrottleKey", "address_key", "client_key", "user_key"]


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
