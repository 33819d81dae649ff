"""Validation of JWT access tokens on the resource-server side (RFC 9068, following RFC 8725).

The validator is deliberately strict and explicit rather than relying on library defaults:

* only the JWS Compact Serialization (RFC 7515 §7.1) is accepted: three base64url parts, nothing else (no
  JWE, no JSON serialization, no unsecured JWS);
* the header must declare ``typ`` ``at+jwt`` (RFC 9068 §2.1, §4), so an ID token or any other JWT signed by
  the same issuer cannot be replayed as an access token (RFC 8725 §3.11);
* ``alg`` must be in the caller's allow-list *before* any key is touched (RFC 8725 §3.1), which rules out
  ``none`` and the "HS256 keyed with the public key" confusion; the signature is then verified by joserfc with
  the same allow-list, and the key is looked up by ``kid`` in the JWK Set only;
* ``iss`` must match exactly and ``aud`` must contain our audience (RFC 9068 §4, RFC 8725 §3.9); ``exp`` and
  ``iat`` are required, ``nbf`` honoured, each with a small leeway for clock skew.

Every failure is an :class:`InvalidToken` whose ``reason`` is a fixed, short text that never echoes any part
of the token, so it can go into a ``WWW-Authenticate`` ``error_description`` (RFC 6750 §3).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import JWKRegistry, Key

__all__ = ["InvalidToken", "Principal", "TokenValidator"]

MAX_TOKEN_LENGTH = 8192
"""Longer strings are refused before any decoding (our tokens are well under 1 KiB)."""

_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request: who it is and which scopes its access token carries."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(hash=False)

    def has(self, scope: str) -> bool:
        """Whether the access token grants ``scope`` (RFC 6749 §3.3 scope tokens, exact match)."""
        return scope in self.scopes


class InvalidToken(Exception):
    """The access token is not acceptable (RFC 6750 §3.1 ``invalid_token``).

    ``reason`` is short, fixed text, safe to put into ``error_description``; it never contains token content.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64url_decode(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment):
        raise InvalidToken("malformed token")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed token") from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # RFC 7515 §5.2 / RFC 7519 §4: a duplicate member name is either rejected or the last one wins;
            # rejecting removes any chance that a signer and a verifier read different values.
            raise InvalidToken("duplicate member in token")
        result[key] = value
    return result


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except InvalidToken:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidToken(f"malformed token {what}") from exc
    if not isinstance(value, dict):
        raise InvalidToken(f"malformed token {what}")
    return value


def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    if name not in claims:
        if required:
            raise InvalidToken(f"missing {name} claim")
        return None
    value = claims[name]
    # RFC 7519 §2 NumericDate: a JSON number. A bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidToken(f"invalid {name} claim")
    return float(value)


MAX_CACHED_TOKENS = 10_000


class TokenValidator:
    """Validate JWT access tokens (RFC 9068) signed by a key of the given JWK Set.

    ``jwks`` is either a JWK Set (``{"keys": [...]}``) or a callable returning one; the callable is called for
    every token, so it can serve a cached set that is refreshed from a remote authorization server.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        algorithms: Sequence[str] = ("ES256",),
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        if isinstance(algorithms, str):
            raise TypeError("algorithms must be a sequence of algorithm names, not one string")
        allowed = tuple(algorithms)
        if not allowed:
            raise ValueError("at least one algorithm must be allowed")
        if any(alg.lower() == "none" for alg in allowed):
            raise ValueError("the 'none' algorithm can never be allowed (RFC 8725 §3.1)")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = allowed
        self.leeway_seconds = leeway_seconds
        self._jwks = jwks
        self._imported: dict[str, Key] = {}
        self._verified: dict[str, tuple[Principal, str]] = {}
        self._kids: tuple[Mapping[str, Any], frozenset[str]] | None = None
        self.clock = clock
        self._lock = threading.Lock()

    def validate(self, token: str) -> Principal:
        """Return the principal of a valid access token; raise :class:`InvalidToken` for anything else.

        A verified token is remembered (at most ``MAX_CACHED_TOKENS``) so that a client sending the same token
        with every request pays for one signature check, not one a request. A remembered token is still refused
        once it expires and as soon as its key is no longer published (a withdrawn key ends its tokens at once)."""
        cached = self._verified.get(token) if isinstance(token, str) else None
        if cached is not None:
            principal, kid = cached
            try:
                if kid in self._published_kids():
                    self._check_times(principal.claims)
                    return principal
            except InvalidToken:
                with self._lock:
                    self._verified.pop(token, None)
                raise
        try:
            principal, kid = self._validate(token)
        except InvalidToken:
            raise
        except Exception as exc:
            # Defence in depth: whatever a library raises on hostile input is still just an invalid token.
            raise InvalidToken("invalid token") from exc
        with self._lock:
            if len(self._verified) >= MAX_CACHED_TOKENS:
                self._verified.clear()  # bounded: a flood of distinct tokens costs their verification, not memory
            self._verified[token] = (principal, kid)
        return principal

    def _published_kids(self) -> frozenset[str]:
        jwks = self._current_jwks()
        remembered = self._kids
        if remembered is not None and remembered[0] is jwks:  # the same key set as last time: the same kids
            return remembered[1]
        keys = jwks.get("keys")
        kids = (
            frozenset(k["kid"] for k in keys if isinstance(k, Mapping) and isinstance(k.get("kid"), str))
            if isinstance(keys, list | tuple)
            else frozenset()
        )
        self._kids = (jwks, kids)
        return kids

    def _validate(self, token: str) -> tuple[Principal, str]:
        if not isinstance(token, str):
            raise InvalidToken("malformed token")
        if not token:
            raise InvalidToken("missing token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too large")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a compact JWS")
        header = _json_object(_b64url_decode(parts[0]), "header")
        _b64url_decode(parts[1])
        _b64url_decode(parts[2])

        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token (typ must be at+jwt)")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("algorithm not allowed")
        if "crit" in header or "b64" in header:
            # RFC 7515 §4.1.11: unknown critical extensions must be rejected; we understand none.
            raise InvalidToken("unsupported critical header")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("missing kid")

        key = self._key_for(kid, alg)
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg])
        except BadSignatureError as exc:
            raise InvalidToken("bad signature") from exc
        except Exception as exc:
            raise InvalidToken("signature verification failed") from exc
        if verified.payload is None:
            raise InvalidToken("malformed token payload")
        claims = _json_object(verified.payload, "payload")
        return self._principal(claims), kid

    def _current_jwks(self) -> Mapping[str, Any]:
        source = self._jwks
        if callable(source):
            try:
                jwks = source()
            except Exception as exc:
                raise InvalidToken("signing keys unavailable") from exc
        else:
            jwks = source
        if not isinstance(jwks, Mapping):
            raise InvalidToken("signing keys unavailable")
        return jwks

    def _key_for(self, kid: str, alg: str) -> Key:
        keys = self._current_jwks().get("keys")
        if not isinstance(keys, list | tuple):
            raise InvalidToken("signing keys unavailable")
        for jwk in keys:
            if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
                break
        else:
            raise InvalidToken("unknown key")
        if jwk.get("use") not in (None, "sig"):
            raise InvalidToken("key not usable for signatures")
        if jwk.get("alg") not in (None, alg):
            # RFC 8725 §3.1: a key is used with the one algorithm it was published for.
            raise InvalidToken("algorithm does not match key")
        cache_key = json.dumps(dict(jwk), sort_keys=True, default=str)
        with self._lock:
            imported = self._imported.get(cache_key)
        if imported is None:
            try:
                imported = JWKRegistry.import_key(dict(jwk))
            except Exception as exc:
                raise InvalidToken("unusable key") from exc
            with self._lock:
                if len(self._imported) > 64:
                    self._imported.clear()
                self._imported[cache_key] = imported
        return imported

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self.clock()
        leeway = self.leeway_seconds
        exp = _numeric_date(claims, "exp", required=True)
        assert exp is not None
        if now >= exp + leeway:
            raise InvalidToken("token expired")
        nbf = _numeric_date(claims, "nbf", required=False)
        if nbf is not None and nbf > now + leeway:
            raise InvalidToken("token not yet valid")
        iat = _numeric_date(claims, "iat", required=True)
        assert iat is not None
        if iat > now + leeway:
            raise InvalidToken("token issued in the future")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong issuer")
        aud = claims.get("aud")
        if isinstance(aud, str):
            audiences = [aud]
        elif isinstance(aud, list) and all(isinstance(item, str) for item in aud):
            audiences = aud
        else:
            raise InvalidToken("missing or invalid aud claim")
        if self.audience not in audiences:
            raise InvalidToken("wrong audience")

        self._check_times(claims)

        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise InvalidToken("missing client_id claim")
        sub = claims.get("sub", client_id)
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("invalid sub claim")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            # RFC 9068 §2.2.3: "scope" is the space-delimited string of RFC 8693 §4.2.
            raise InvalidToken("invalid scope claim")

        return Principal(
            client_id=client_id,
            subject=sub,
            scopes=frozenset(scope.split()),
            claims=MappingProxyType(claims),
        )
