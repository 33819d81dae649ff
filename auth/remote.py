"""An external authorization server (an OpenID Provider or any RFC 8414 OAuth 2 issuer) as a token source.

A deployment that signs its users and partner systems in with its own identity provider points the API at
that issuer instead of (or beside) the built-in server. :class:`RemoteIssuer` discovers the issuer's metadata
(OpenID Connect Discovery 1.0 §4, falling back to RFC 8414 §3) and its JWK Set (RFC 7517 §5), caches both,
and hands out :class:`~auth.tokens.TokenValidator` instances bound to those keys, so every token is still
checked exactly as ``auth.tokens`` checks the built-in server's tokens (RFC 9068, RFC 8725).

Keys rotate: a token whose ``kid`` is not in the cached set makes the issuer refetch its JWK Set, but at most
once per ``min_refresh_seconds`` for all callers together, so a stream of tokens with made-up key ids costs the
identity provider one request a minute, not one per token. Only tokens that already passed the header checks
of the validator (compact JWS, ``typ`` ``at+jwt``, an allowed ``alg``, a ``kid``) get that far.

Fetching is synchronous (``urllib``; 5 s timeout, JSON only, https required except for loopback hosts) and
happens on first use and on a refetch; everything else is served from memory. A failed fetch raises, and the
validator turns that into ``InvalidToken("signing keys unavailable")``.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.client import HTTPMessage
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

from .tokens import MAX_CACHED_TOKENS, MAX_TOKEN_LENGTH, InvalidToken, Principal, TokenValidator

__all__ = ["DiscoveryError", "IssuerDispatch", "RemoteIssuer", "fetch_json"]

FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 1024 * 1024
"""Metadata and JWK Sets are a few KiB; a larger answer is refused rather than read into memory."""

FAILURE_BACKOFF_SECONDS = 5.0
"""After a failed first fetch, callers get the error at once for this long (at most ``min_refresh_seconds``)
instead of queueing behind the lock for another timeout each."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

OPENID_CONFIGURATION = "/.well-known/openid-configuration"
OAUTH_AUTHORIZATION_SERVER = "/.well-known/oauth-authorization-server"

_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

_token_kid: contextvars.ContextVar[str | None] = contextvars.ContextVar("hrss_remote_token_kid", default=None)
"""The unverified ``kid`` of the token being validated in this thread / task (see ``_RemoteTokenValidator``)."""


class DiscoveryError(Exception):
    """Metadata or a JWK Set could not be fetched, or the document is not what it must be."""


# ----------------------------------------------------------------------------------------------------------
# Fetching


def _check_url(url: str, what: str) -> None:
    """https, or plain http to a loopback host only; no credentials in the URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid URL") from exc
    if not host:
        raise ValueError(f"{what} has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not carry credentials")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return
    raise ValueError(f"{what} must use https (plain http only for a loopback host): {url!r}")


def _is_json(media_type: str) -> bool:
    # RFC 8259 application/json, and structured-syntax suffixes such as application/jwk-set+json (RFC 7517 §8.5).
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL the same transport rule allows (never https -> plain http)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            _check_url(newurl, "redirect target")
        except ValueError as exc:
            fp.close()
            raise DiscoveryError(str(exc)) from exc
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# Loopback requests never go through a proxy from the environment; others honour it (corporate egress).
_DIRECT_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _CheckedRedirects())
_DEFAULT_OPENER = urllib.request.build_opener(_CheckedRedirects())


def fetch_json(url: str) -> Mapping[str, Any]:
    """GET ``url`` and return its JSON object; raise :class:`DiscoveryError` (or ``ValueError``) otherwise.

    The default ``http`` of :class:`RemoteIssuer`: standard library only, 5 s timeout, https required except
    for loopback hosts (also after a redirect), a JSON media type and a JSON object required, 1 MiB at most.
    """
    _check_url(url, "URL")
    host = urlsplit(url).hostname
    opener = _DIRECT_OPENER if host in LOOPBACK_HOSTS else _DEFAULT_OPENER
    # S310: _check_url has just allowed http(s) only.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Accept": "application/json", "User-Agent": "hrss-credit"}
    )
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            media_type = response.headers.get_content_type()
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DiscoveryError(f"GET {url}: HTTP {exc.code}") from exc
    except DiscoveryError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:  # TimeoutError is an OSError
        raise DiscoveryError(f"GET {url}: {exc}") from exc
    if not _is_json(media_type):
        raise DiscoveryError(f"GET {url}: not JSON ({media_type})")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DiscoveryError(f"GET {url}: document too large")
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DiscoveryError(f"GET {url}: invalid JSON") from exc
    if not isinstance(value, dict):
        raise DiscoveryError(f"GET {url}: not a JSON object")
    return value


# ----------------------------------------------------------------------------------------------------------
# The issuer


def _metadata_urls(issuer: str) -> list[str]:
    """Where the metadata may be, in the order tried.

    OpenID Connect Discovery §4 appends ``/.well-known/openid-configuration`` to the issuer; RFC 8414 §3.1
    inserts ``/.well-known/oauth-authorization-server`` between the host and the issuer's path. For an issuer
    with a path, the appended RFC 8414 form (as the built-in server publishes it) is tried last.
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    urls = [
        issuer.rstrip("/") + OPENID_CONFIGURATION,
        urlunsplit((parts.scheme, parts.netloc, OAUTH_AUTHORIZATION_SERVER + path, "", "")),
        issuer.rstrip("/") + OAUTH_AUTHORIZATION_SERVER,
    ]
    return list(dict.fromkeys(urls))


def _has_kid(jwks: Mapping[str, Any], kid: str) -> bool:
    keys = jwks.get("keys")
    return isinstance(keys, list) and any(isinstance(key, Mapping) and key.get("kid") == kid for key in keys)


class RemoteIssuer:
    """An external OAuth 2 / OpenID issuer: metadata and JWKS discovered and cached.

    ``issuer`` is the issuer identifier exactly as the tokens carry it in ``iss`` (https, or http on a loopback
    host). ``http`` fetches a URL and returns its JSON object (default :func:`fetch_json`). A JWK Set refetch
    for an unknown ``kid`` happens at most once per ``min_refresh_seconds`` as measured by ``clock``. Nothing
    is fetched before first use, so an API can start while its identity provider is still down.
    """

    def __init__(
        self,
        issuer: str,
        *,
        http: Callable[[str], Mapping[str, Any]] | None = None,
        min_refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_url(issuer, "issuer")
        parts = urlsplit(issuer)
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (RFC 8414 §2)")
        if min_refresh_seconds < 0:
            raise ValueError("min_refresh_seconds must not be negative")
        self.issuer = issuer
        self.min_refresh_seconds = float(min_refresh_seconds)
        self._http = http if http is not None else fetch_json
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: Mapping[str, Any] | None = None
        self._jwks: Mapping[str, Any] | None = None
        self._last_refetch: float | None = None
        self._failed_at: float | None = None
        self._failure: Exception | None = None

    def __repr__(self) -> str:
        return f"RemoteIssuer({self.issuer!r})"

    # -- public ----------------------------------------------------------------------------------------------

    def metadata(self) -> Mapping[str, Any]:
        """The issuer's metadata (fetched once, then cached).

        Raises ``ValueError`` when the document's ``issuer`` is not exactly the configured issuer
        (OpenID Connect Discovery §4.3, RFC 8414 §3.3), :class:`DiscoveryError` when none could be fetched.
        """
        metadata = self._metadata
        if metadata is not None:
            return metadata
        with self._lock:
            return self._ensure_metadata()

    def jwks(self) -> Mapping[str, Any]:
        """The cached JWK Set, fetched from ``metadata()["jwks_uri"]`` on first use."""
        jwks = self._jwks
        if jwks is not None:
            return jwks
        with self._lock:
            jwks, _ = self._ensure_jwks()
            return jwks

    def jwks_for_kid(self, kid: str) -> Mapping[str, Any]:
        """The cached JWK Set; when ``kid`` is not in it, a freshly fetched one (rate limited).

        The refetch happens at most once per ``min_refresh_seconds`` across all callers; within that time the
        cached set is returned as it is (and the validator reports an unknown key). A failed refetch raises
        and keeps the cached set.
        """
        jwks = self._jwks
        if jwks is not None and _has_kid(jwks, kid):
            return jwks
        with self._lock:
            jwks, fetched_now = self._ensure_jwks()
            if fetched_now or _has_kid(jwks, kid):
                # Just fetched (first use), or another caller refetched while this one waited for the lock.
                return jwks
            now = self._clock()
            if self._last_refetch is not None and now - self._last_refetch < self.min_refresh_seconds:
                return jwks
            # Counted before the attempt: a failing identity provider is not asked more often either.
            self._last_refetch = now
            self._jwks = self._fetch_jwks(self._ensure_metadata())
            return self._jwks

    def validator(self, *, audience: str, algorithms: Sequence[str] = ("RS256", "ES256", "PS256")) -> TokenValidator:
        """A :class:`TokenValidator` for tokens of this issuer, for resource ``audience``, bound to its keys.

        Each token's key is looked up by its ``kid``; an unknown ``kid`` leads to one rate-limited refetch
        (:meth:`jwks_for_kid`). All other checks are the ones of :class:`TokenValidator`.
        """
        return _RemoteTokenValidator(self, audience=audience, algorithms=algorithms)

    # -- internals (called with the lock held) ---------------------------------------------------------------

    def _raise_if_backing_off(self) -> None:
        if self._failed_at is None or self._failure is None:
            return
        backoff = min(FAILURE_BACKOFF_SECONDS, self.min_refresh_seconds)
        if self._clock() - self._failed_at < backoff:
            raise DiscoveryError(f"{self.issuer}: a fetch failed moments ago") from self._failure

    def _note_failure(self, exc: Exception) -> None:
        self._failed_at = self._clock()
        self._failure = exc

    def _ensure_metadata(self) -> Mapping[str, Any]:
        if self._metadata is not None:
            return self._metadata
        self._raise_if_backing_off()
        try:
            metadata = self._fetch_metadata()
        except Exception as exc:
            self._note_failure(exc)
            raise
        self._metadata = metadata
        return metadata

    def _ensure_jwks(self) -> tuple[Mapping[str, Any], bool]:
        if self._jwks is not None:
            return self._jwks, False
        metadata = self._ensure_metadata()
        self._raise_if_backing_off()
        try:
            jwks = self._fetch_jwks(metadata)
        except Exception as exc:
            self._note_failure(exc)
            raise
        self._failed_at = self._failure = None
        self._jwks = jwks
        return jwks, True

    def _fetch_metadata(self) -> Mapping[str, Any]:
        errors: list[str] = []
        for url in _metadata_urls(self.issuer):
            try:
                document = self._http(url)
            except Exception as exc:
                # Not published there (404), or not reachable: try the next well-known location.
                errors.append(f"{url}: {exc}")
                continue
            if not isinstance(document, Mapping):
                errors.append(f"{url}: not a JSON object")
                continue
            if document.get("issuer") != self.issuer:
                # Discovery §4.3 / RFC 8414 §3.3: a mismatch means the document is not this issuer's (or
                # someone impersonates it); never fall back to another document in that case.
                raise ValueError(f"metadata at {url} names a different issuer than {self.issuer!r}")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise DiscoveryError(f"metadata at {url} has no jwks_uri")
            _check_url(jwks_uri, "jwks_uri")
            return document
        raise DiscoveryError(f"no metadata for {self.issuer}: " + "; ".join(errors))

    def _fetch_jwks(self, metadata: Mapping[str, Any]) -> Mapping[str, Any]:
        jwks_uri = metadata["jwks_uri"]
        jwks = self._http(jwks_uri)
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise DiscoveryError(f"{jwks_uri} is not a JWK Set")
        return jwks


# ----------------------------------------------------------------------------------------------------------
# The validator


def _unverified_kid(token: object) -> str | None:
    """The ``kid`` of a compact JWS header, read without verifying anything; ``None`` for anything odd.

    Only used to pick which cached key set to ask for: the token itself is validated by ``TokenValidator``,
    which reads the header again and rejects whatever is malformed.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        return None
    segment, dot, _ = token.partition(".")
    if not dot or not segment or not _B64URL_ALPHABET.issuperset(segment):
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) and kid else None


class _RemoteTokenValidator(TokenValidator):
    """A ``TokenValidator`` whose key set is asked for with the ``kid`` of the token being validated.

    ``TokenValidator`` calls its ``jwks`` callable without arguments, so the ``kid`` travels in a context
    variable that is set for the duration of one ``validate`` call (threads and asyncio tasks each see their
    own). The validator itself, with its cache of imported keys, is shared.
    """

    def __init__(self, remote: RemoteIssuer, *, audience: str, algorithms: Sequence[str]) -> None:
        self.remote = remote
        super().__init__(issuer=remote.issuer, audience=audience, jwks=self._keys, algorithms=algorithms)

    def validate(self, token: str) -> Principal:
        reset = _token_kid.set(_unverified_kid(token))
        try:
            return super().validate(token)
        finally:
            _token_kid.reset(reset)

    def _keys(self) -> Mapping[str, Any]:
        kid = _token_kid.get()
        return self.remote.jwks() if kid is None else self.remote.jwks_for_kid(kid)


def _unverified_issuer(token: str) -> str | None:
    """The ``iss`` of a compact JWS before verification, only to pick the validator that will verify it."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH else []
    if len(parts) != 3 or not parts[1] or set(parts[1]) - _B64URL_ALPHABET:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


class IssuerDispatch(TokenValidator):
    """Tokens from several issuers (the built-in server and an external IdP): each is verified by its own
    issuer's validator, chosen by the unverified ``iss``; the chosen validator checks ``iss`` again."""

    def __init__(self, validators: Mapping[str, TokenValidator]) -> None:
        self._validators = dict(validators)
        # Which validator a token went to: a client sends the same token with every request, and reading its
        # issuer again (base64 and JSON) would cost more than the remembered verification it leads to.
        self._routed: dict[str, TokenValidator] = {}

    def validate(self, token: str) -> Principal:
        validator = self._routed.get(token) if isinstance(token, str) else None
        if validator is None:
            issuer = _unverified_issuer(token)
            validator = self._validators.get(issuer) if issuer else None
            if validator is None:
                raise InvalidToken("unknown issuer")
        principal = validator.validate(token)
        if len(self._routed) >= MAX_CACHED_TOKENS:
            self._routed.clear()
        self._routed[token] = validator
        return principal
