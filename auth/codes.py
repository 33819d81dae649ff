"""The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) for the employer login.

:class:`AuthorizationCodeStore` is where the single-use codes are kept, :class:`S256CodeChallenge` requires
PKCE with ``S256`` for every client, and :class:`AuthorizationCodeGrant` is Authlib's grant with this
server's stricter validation of the authorization request and of the code exchange.

Authlib's grant is synchronous and a shared store is not, so the grant never calls the store: at the
authorization endpoint it leaves the new code on the request (:data:`ISSUED_CODE`) for the endpoint to save
before the redirect goes out, and at the token endpoint it finds the code the endpoint took from the store
before handing the request to Authlib (``StarletteOAuth2Request.taken_code``). The grant reaches the
employer accounts, the clock and the issuer through the Authlib server it is registered with.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AuthorizationCodeGrant as AuthlibAuthorizationCodeGrant
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge

from .oauth_clients import CODE_AUTH_METHODS, OAuthClient, ResourceOwner

__all__ = [
    "CODE_TTL_SECONDS",
    "ISSUED_CODE",
    "MAX_PENDING_CODES",
    "AuthorizationCode",
    "AuthorizationCodeGrant",
    "AuthorizationCodeStore",
    "MemoryCodeStore",
    "S256CodeChallenge",
    "code_hash",
]

# Every line of the built-in authorization server goes to one logger, which log filters and alerts name.
log = logging.getLogger("auth.server")

CODE_TTL_SECONDS = 60
"""Lifetime of an authorization code: RFC 6749 §4.1.2 asks for a short one (at most 10 minutes); the code
travels through the browser and is exchanged at once, so one minute is plenty."""
MAX_PENDING_CODES = 10_000
"""At most this many unexchanged codes are kept in memory; beyond it the oldest are dropped."""


ISSUED_CODE = "issued_authorization_code"
"""The attribute of Authlib's request where the grant leaves a new ``(code, AuthorizationCode)`` to save."""


@dataclass(frozen=True)
class AuthorizationCode:
    """What a code stands for, bound to its client, redirect URI and PKCE challenge (RFC 6749 §4.1.2,
    RFC 7636 §4.4). ``redirect_uri_param`` is the ``redirect_uri`` exactly as the authorization request sent
    it (``None`` when omitted); ``redirect_uri`` is where the code was actually delivered."""

    client_id: str
    redirect_uri: str
    redirect_uri_param: str | None
    scope: str
    username: str
    code_challenge: str
    code_challenge_method: str
    expires_at: float

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri_param

    def get_scope(self) -> str:
        return self.scope


class AuthorizationCodeStore(Protocol):
    """Where the single-use codes are kept (the API: in PostgreSQL, shared by every process).

    :meth:`take` is the one exchange a code allows: it returns the grant when the code exists, is unused and
    has not expired, and either way the code cannot be exchanged afterwards (RFC 6749 §4.1.2, §10.5), even by
    two concurrent requests at two processes. A store keeps codes under a hash, never in clear: a code is a
    bearer secret until it is exchanged.
    """

    async def save(self, code: str, item: AuthorizationCode) -> None: ...

    async def take(self, code: str) -> AuthorizationCode | None: ...


def code_hash(code: str) -> bytes:
    """The SHA-256 a code is kept under: enough to find it, useless for presenting it."""
    return hashlib.sha256(code.encode("utf-8", errors="surrogatepass")).digest()


class MemoryCodeStore:
    """An :class:`AuthorizationCodeStore` in this process's memory, for a single-process server (tests, a
    library use of the built-in server); a deployment with several processes passes a shared store instead.

    A second presentation is logged as a replay; the tokens issued for the first cannot be revoked
    (self-contained JWTs, RFC 9068), so their short lifetime bounds the damage.
    """

    def __init__(self, *, clock: Callable[[], float], max_codes: int = MAX_PENDING_CODES) -> None:
        self._clock = clock
        self._max = max_codes
        self._live: OrderedDict[bytes, AuthorizationCode] = OrderedDict()
        self._spent: OrderedDict[bytes, float] = OrderedDict()

    def _purge(self, now: float) -> None:
        # Codes are stored in issue order with one lifetime, so the expired ones are at the front.
        while self._live:
            key, item = next(iter(self._live.items()))
            if item.expires_at > now and len(self._live) <= self._max:
                break
            del self._live[key]
        while self._spent:
            key, expires_at = next(iter(self._spent.items()))
            if expires_at > now and len(self._spent) <= self._max:
                break
            del self._spent[key]

    async def save(self, code: str, item: AuthorizationCode) -> None:
        self._live[code_hash(code)] = item
        self._purge(self._clock())

    async def take(self, code: str) -> AuthorizationCode | None:
        # No await between the look-up and the removal: one event loop, so two requests cannot both get it.
        key = code_hash(code)
        now = self._clock()
        item = self._live.pop(key, None)
        if item is None:
            if key in self._spent:
                log.warning("an authorization code was presented again after it had been used")
            self._purge(now)
            return None
        self._spent[key] = item.expires_at
        self._purge(now)
        return item if item.expires_at > now else None

    def __len__(self) -> int:
        return len(self._live)


def _compare_s256(code_verifier: str, code_challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge, compared in constant time."""
    computed = create_s256_code_challenge(code_verifier)
    return hmac.compare_digest(computed.encode("ascii"), code_challenge.encode("ascii", errors="replace"))


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]  # Authlib ships no type information
    """PKCE required for every authorization request, with ``S256`` only.

    RFC 7636 §4.2/§7.2: ``plain`` protects nothing once the request is observed, and RFC 9700 §2.1.1 says to
    use ``S256``; a missing ``code_challenge_method`` means ``plain`` (RFC 7636 §4.3), so it is refused too. A
    missing challenge is refused (RFC 7636 §4.4.1, "code challenge required"), for confidential clients as
    well, which also defends them against code injection (RFC 9700 §4.5).
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    CODE_CHALLENGE_METHODS: ClassVar[dict[str, Callable[[str, str], bool]]] = {"S256": _compare_s256}

    def validate_code_challenge(self, grant: Any, redirect_uri: Any) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("code challenge required (PKCE with S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("transform algorithm not supported: code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(AuthlibAuthorizationCodeGrant):  # type: ignore[misc]  # Authlib ships no type information
    """RFC 6749 §4.1 for the employer login, on top of Authlib's grant.

    The authorization request is validated here rather than by Authlib's helper so that (a) a bad or
    unregistered ``redirect_uri`` or client never leads to a redirect (RFC 6749 §4.1.2.1) and its error text
    never echoes the request, and (b) the granted scope is the requested scope intersected with the client's
    (RFC 6749 §3.3). The endpoints move codes between the request and the :class:`AuthorizationCodeStore`.
    """

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(CODE_AUTH_METHODS)

    # -- authorization endpoint --------------------------------------------------------------------------

    def validate_authorization_request(self) -> str:
        request = self.request
        client_id = request.payload.client_id
        if not client_id:
            raise InvalidClientError(description="Missing 'client_id' parameter.")
        client = self.server.query_client(client_id)
        if client is None:
            raise InvalidClientError(description="The client does not exist on this server.")
        redirect_uri = self._redirect_uri(client)
        if not client.check_response_type(request.payload.response_type):
            raise UnauthorizedClientError(
                "The client may not use the authorization code grant.", redirect_uri=redirect_uri
            )
        request.client = client
        try:
            self.validate_authorization_request_payload(redirect_uri)
        except OAuth2Error as error:
            # The redirect URI is now known to be registered: the error goes back to the client (§4.1.2.1).
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def _redirect_uri(self, client: OAuthClient) -> str:
        requested = self.request.payload.redirect_uri
        if requested is not None:
            if not client.check_redirect_uri(requested):
                raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
            return str(requested)
        default = client.get_default_redirect_uri()
        if default is None:
            raise InvalidRequestError("Missing 'redirect_uri' (the client has no single registered one).")
        return default

    @hooked  # type: ignore[untyped-decorator]  # Authlib ships no type information
    def validate_authorization_request_payload(self, redirect_uri: str) -> None:
        # The "after" hook of this method is where CodeChallenge checks code_challenge.
        self.validate_requested_scope()  # a scope this server does not know at all: invalid_scope
        scope = self.request.client.intersect_scope(self.request.payload.scope)
        if scope is None:
            raise InvalidScopeError()
        self.request.scope = scope

    def create_authorization_response(
        self, redirect_uri: str, grant_user: Any
    ) -> tuple[int, str, list[tuple[str, str]]]:
        status, body, headers = super().create_authorization_response(redirect_uri, grant_user)
        # RFC 9207: name the issuer in the response, so a client talking to several servers detects mix-up
        # attacks (RFC 9700 §4.4.2).
        located = [(name, add_params_to_uri(value, [("iss", self.server.issuer)])) for name, value in headers]
        return status, body, located

    def save_authorization_code(self, code: str, request: Any) -> None:
        user = request.user
        assert isinstance(user, ResourceOwner)
        requested = request.payload.redirect_uri
        delivered = requested if requested is not None else request.client.get_default_redirect_uri()
        data = request.payload.data
        item = AuthorizationCode(
            client_id=request.client.get_client_id(),
            redirect_uri=delivered,
            redirect_uri_param=requested,
            scope=request.scope,
            username=user.account.username,
            code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            expires_at=self.server.clock() + CODE_TTL_SECONDS,
        )
        # Saved by the endpoint (auth.login) before the redirect that carries the code goes out.
        setattr(request, ISSUED_CODE, (code, item))

    # -- token endpoint ----------------------------------------------------------------------------------

    def query_authorization_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        # Taken from the store by the token endpoint (auth.server) for exactly this code.
        taken = self.request.taken_code
        item = taken[1] if taken is not None and taken[0] == code else None
        if not isinstance(item, AuthorizationCode) or item.client_id != client.get_client_id():
            # RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
            return None
        return item

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Already spent: AuthorizationCodeStore.take spends a code when it is presented.
        return None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> ResourceOwner | None:
        accounts = self.server.accounts
        account = accounts.get(authorization_code.username) if accounts is not None else None
        return ResourceOwner(account) if account is not None else None

    @hooked  # type: ignore[untyped-decorator]  # Authlib ships no type information
    def validate_token_request(self) -> None:
        """RFC 6749 §4.1.3; the "after" hook is where CodeChallenge checks the verifier (RFC 7636 §4.6)."""
        client = self.authenticate_token_endpoint_client()
        form = self.request.form
        if form.get("client_id") not in (None, client.get_client_id()):
            raise InvalidClientError(description="The 'client_id' does not match the authenticated client.")
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("The client may not use the authorization code grant.")
        code = form.get("code")
        if not code:
            raise InvalidRequestError("Missing 'code' in request.")
        authorization_code = self.query_authorization_code(code, client)
        if authorization_code is None:
            raise InvalidGrantError("Invalid 'code' in request.")
        redirect_uri = self.request.payload.redirect_uri
        if authorization_code.redirect_uri_param is not None:
            # RFC 6749 §4.1.3: required, and identical to the one of the authorization request.
            if redirect_uri != authorization_code.redirect_uri_param:
                raise InvalidGrantError("Invalid 'redirect_uri' in request.")
        elif redirect_uri is not None and redirect_uri != authorization_code.redirect_uri:
            raise InvalidGrantError("Invalid 'redirect_uri' in request.")
        self.request.client = client
        self.request.authorization_code = authorization_code

    @hooked  # type: ignore[untyped-decorator]  # Authlib ships no type information
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's version without its token log line (RFC 6750 §5.3) and without refresh tokens."""
        authorization_code = self.request.authorization_code
        user = self.authenticate_user(authorization_code)
        if user is None:
            raise InvalidGrantError("There is no 'user' for this code.")
        self.request.user = user
        token = self.generate_token(user=user, scope=authorization_code.get_scope(), include_refresh_token=False)
        self.save_token(token)
        self.delete_authorization_code(authorization_code)
        return 200, token, list(self.TOKEN_RESPONSE_HEADER)
