"""The keys every process of one deployment must hold alike: the token signing key and the CSRF MAC key.

A token signed by one API process is checked by every other, and a login form rendered by one is posted to
another behind a load balancer, so neither key may be a process's own. Where they are kept is the
deployment's choice, which this package does not make: the application passes in a loader (``api``: from the
settings, or from the database when the settings give none). :class:`SharedKeys` loads them once and then
answers from memory, so signing and checking a token cost no I/O.

Until the keys are loaded the JWK Set is empty (every token is refused as signed by an unknown key) and the
endpoints that need a key answer 503; a process started while the database is unreachable thus serves
nothing it cannot stand behind, and :meth:`SharedKeys.load` is tried again by whoever needs the keys.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from joserfc.jwk import ECKey

from .keys import SigningKeys

__all__ = ["CSRF_KEY_BYTES", "KeysNotLoaded", "ServerKeys", "SharedKeys"]

CSRF_KEY_BYTES = 32
"""The CSRF MAC key's length: HMAC-SHA-256's block-size-independent strength (RFC 2104 §3)."""

_ALG = "ES256"
_NO_KEYS: MappingProxyType[str, Any] = MappingProxyType({"keys": []})


class KeysNotLoaded(RuntimeError):
    """The shared keys are not known yet (the store that keeps them did not answer)."""


@dataclass(frozen=True)
class ServerKeys:
    """The token signing key pair and the login form's CSRF MAC key."""

    signing: SigningKeys
    csrf_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.csrf_key) < CSRF_KEY_BYTES:
            raise ValueError(f"the CSRF key needs at least {CSRF_KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> ServerKeys:
        """Keys of this process alone (tests, a throw-away single-process server)."""
        return cls.generate_csrf_for(SigningKeys.generate())

    @classmethod
    def generate_csrf_for(cls, signing: SigningKeys) -> ServerKeys:
        """``signing`` with a CSRF key of this process alone (a single-process server)."""
        return cls(signing, secrets.token_bytes(CSRF_KEY_BYTES))


class SharedKeys:
    """The deployment's :class:`ServerKeys`, loaded once by ``loader`` and then held in memory.

    It signs as :class:`auth.keys.SigningKeys` does (``alg``, ``kid``, :meth:`private_key`), so the token
    generator and the audit checkpoints use it alike.
    """

    alg = _ALG

    def __init__(self, loader: Callable[[], Awaitable[ServerKeys]]) -> None:
        self._loader = loader
        self._keys: ServerKeys | None = None
        self._jwks: MappingProxyType[str, Any] = _NO_KEYS
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, keys: ServerKeys) -> SharedKeys:
        """Keys known from the start (tests, the CLI once it has read them)."""
        shared = cls(_already(keys))
        shared._install(keys)
        return shared

    def _install(self, keys: ServerKeys) -> None:
        if keys.signing.alg != _ALG:
            raise ValueError(f"the signing key must be for {_ALG}")
        self._keys = keys
        # One mapping for the life of the process: the token validator recognizes it and keeps its kids.
        self._jwks = MappingProxyType(keys.signing.public_jwks())

    @property
    def loaded(self) -> bool:
        return self._keys is not None

    async def load(self) -> ServerKeys:
        """The keys, loaded now unless they already are; the loader's error (e.g. the database is down)
        propagates and the next call tries again."""
        if self._keys is not None:
            return self._keys
        async with self._lock:
            if self._keys is None:
                self._install(await self._loader())
        assert self._keys is not None
        return self._keys

    def current(self) -> ServerKeys:
        if self._keys is None:
            raise KeysNotLoaded("the signing keys are not loaded")
        return self._keys

    @property
    def kid(self) -> str:
        return self.current().signing.kid

    def private_key(self) -> ECKey:
        return self.current().signing.private_key()

    def csrf_key(self) -> bytes:
        return self.current().csrf_key

    def public_jwks(self) -> MappingProxyType[str, Any]:
        """The published JWK Set (RFC 7517 §5): the public half only; empty until the keys are loaded."""
        return self._jwks

    def __repr__(self) -> str:
        return f"SharedKeys(loaded={self.loaded}, kid={self._keys.signing.kid if self._keys else None!r})"


def _already(keys: ServerKeys) -> Callable[[], Awaitable[ServerKeys]]:
    async def load() -> ServerKeys:
        return keys

    return load
