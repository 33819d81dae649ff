"""The built-in OAuth 2.0 authorization server of the embedded / demo setup, built on Authlib.

It issues JWT access tokens (RFC 9068) to the registered confidential clients through the client
credentials grant (RFC 6749 §4.4), authenticating them with ``client_secret_basic`` or
``client_secret_post`` (RFC 6749 §2.3.1), and publishes its metadata (RFC 8414) and its public signing key
as a JWK Set (RFC 7517), which is all a resource server needs to validate the tokens (``auth.tokens``). A
production deployment may point the API at an external authorization server instead; nothing else depends
on this module.

When employer accounts are configured it also runs the authorization code grant (RFC 6749 §4.1) with PKCE
(RFC 7636, ``S256`` only, required for every client as RFC 9700 §2.1.1 recommends) for the ``employer``
audience: ``GET /oauth/authorize`` validates the request and shows a login form, ``POST /oauth/authorize``
checks the form's CSRF token and the employer's password and redirects back with a single-use code, and
the token endpoint exchanges the code for an access token whose ``sub`` is ``employer:<username>`` and whose
``uscc`` claim, taken from the account only, binds the employer to its own subject (policy.md).

This module is the server's face, :class:`BuiltinAuthorizationServer` and its routes. It is built from
parts that never import it: ``auth.oauth_clients`` (the clients as Authlib sees them, client
authentication), ``auth.oauth_requests`` (Starlette requests prepared for Authlib), ``auth.codes`` (the
authorization codes, their grant, PKCE), ``auth.authlib_server`` (Authlib's server for Starlette, the
client credentials grant, the token generator), ``auth.login`` and ``auth.csrf`` (the employer's sign-in
form), ``auth.throttle`` (the brute-force throttle) and ``auth.shared_keys`` (the signing and CSRF keys).

Several processes behind a load balancer serve one sign-in together when they share its state: the
application passes in a shared :class:`AuthorizationCodeStore` (a code issued by one process is exchanged at
another) and :class:`SharedKeys` (a form rendered by one is posted to another, a token signed by one is
checked by all). Given neither, the server keeps both in its own memory: one process only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InsecureTransportError, InvalidRequestError, OAuth2Error
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .accounts import AccountStore
from .authlib_server import NO_STORE, RESERVED_CLAIMS, build_authlib_server
from .clients import ALL_SCOPES, EMPLOYER_CLIENT_ID, Client
from .codes import AuthorizationCodeStore, MemoryCodeStore
from .keys import SigningKeys
from .login import EmployerLogin, error_page, unavailable_page
from .oauth_clients import (
    AUTH_METHODS,
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    CODE_AUTH_METHODS,
    OAuthClient,
    ResourceOwner,
    basic_credentials,
)
from .oauth_requests import PreparedRequest, client_address, read_token_request
from .shared_keys import ServerKeys, SharedKeys
from .throttle import FailureThrottle, ThrottleGate, address_key, client_key

__all__ = ["BuiltinAuthorizationServer"]

# Every line of the built-in authorization server goes to one logger, which log filters and alerts name.
log = logging.getLogger("auth.server")

TOKEN_PATH = "/oauth/token"  # noqa: S105  (a path, not a password)
AUTHORIZE_PATH = "/oauth/authorize"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"


# ----------------------------------------------------------------------------------------------------------
# Helpers of the token endpoint


def _is_invalid_client(response: Response) -> bool:
    """Whether a token response says the client failed to authenticate (RFC 6749 §5.2 ``invalid_client``)."""
    if response.status_code not in (400, 401):
        return False
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == "invalid_client"


def _registered(clients: Sequence[Client]) -> dict[str, OAuthClient]:
    registered: dict[str, OAuthClient] = {}
    for client in clients:
        if client.client_id in registered:
            raise ValueError(f"client {client.client_id!r} is registered twice")
        reserved = RESERVED_CLAIMS & set(client.extra_claims)
        if reserved:
            raise ValueError(f"client {client.client_id!r} may not set claims {sorted(reserved)}")
        registered[client.client_id] = OAuthClient(client)
    return registered


class _TemporarilyUnavailableError(OAuth2Error):  # type: ignore[misc]  # Authlib ships no type information
    error = "temporarily_unavailable"
    description = "The server cannot check this request now; please retry later."
    status_code = 503


# ----------------------------------------------------------------------------------------------------------
# The public face


class BuiltinAuthorizationServer:
    """Authorization server for the registered clients, issuing RFC 9068 JWT access tokens.

    ``issuer`` is the public base URL (RFC 8414 §2: no query or fragment); the endpoints are published under
    it. ``audience`` is the resource identifier the API accepts in ``aud`` (e.g. ``hrss-credit``).

    ``accounts`` enables the employer login: the authorization endpoint, the authorization code grant with
    PKCE and token endpoint authentication ``none`` for public clients. Without it (``None``) there is no
    employer login; ``/oauth/authorize`` answers with a 404 page and the metadata advertises only the client
    credentials grant. ``clock`` (seconds since the epoch) times authorization codes and login forms; it is
    injectable for tests.

    ``keys`` signs the tokens and the login forms' CSRF tokens: :class:`SharedKeys` for a deployment whose
    processes share them, or one process's own :class:`SigningKeys` (with a CSRF key of its own). ``codes``
    keeps the authorization codes (``None``: in this process's memory).

    ``throttle`` counts failed client secrets (per client id and address) and failed employer passwords (per
    user name and address); a blocked key is answered 429 with ``Retry-After`` before any secret is checked,
    so that a guesser learns nothing more, not even from the right secret. ``None``: no throttle.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: SigningKeys | SharedKeys,
        clients: Sequence[Client],
        token_ttl_seconds: int = 3600,
        accounts: AccountStore | None = None,
        clock: Callable[[], float] = time.time,
        throttle: FailureThrottle | None = None,
        codes: AuthorizationCodeStore | None = None,
    ) -> None:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("issuer must be an http(s) URL without query or fragment (RFC 8414 §2)")
        if not audience:
            raise ValueError("audience is required")
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        registered = _registered(clients)

        if isinstance(keys, SigningKeys):
            keys = SharedKeys.of(ServerKeys.generate_csrf_for(keys))
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.token_ttl_seconds = token_ttl_seconds
        self._clients = registered
        self._accounts = accounts
        self._gate = ThrottleGate(throttle, clock=clock)
        self._codes: AuthorizationCodeStore = codes if codes is not None else MemoryCodeStore(clock=clock)
        base = issuer.rstrip("/")
        self.token_endpoint_url = base + TOKEN_PATH
        self.authorization_endpoint_url = base + AUTHORIZE_PATH
        self.jwks_uri = base + JWKS_PATH
        self.scopes_supported = sorted(ALL_SCOPES.union(*(c.client.scopes for c in registered.values())))

        self._server = build_authlib_server(
            registered,
            self.scopes_supported,
            issuer=issuer,
            audience=audience,
            keys=keys,
            token_ttl_seconds=token_ttl_seconds,
            accounts=accounts,
            clock=clock,
        )
        self._login = (
            EmployerLogin(
                self._server, accounts, codes=self._codes, csrf_key=keys.csrf_key, clock=clock, gate=self._gate
            )
            if accounts is not None
            else None
        )

    @property
    def employer_login_enabled(self) -> bool:
        return self._accounts is not None

    # -- issuing without HTTP (CLI) ------------------------------------------------------------------------

    @staticmethod
    def _requested_scope(scopes: Iterable[str] | None) -> str | None:
        if scopes is None:
            return None
        items = scopes.split() if isinstance(scopes, str) else list(scopes)
        if any(not item or any(ch.isspace() for ch in item) for item in items):
            raise ValueError("a scope is a non-empty string without spaces")
        return " ".join(items)

    def issue_token(self, client_id: str, *, scopes: Iterable[str] | None = None) -> str:
        """Issue an access token for ``client_id`` exactly as the token endpoint would (for the CLI).

        ``scopes`` narrows the client's scopes (``None`` or empty: all of them). Raises ``KeyError`` for an
        unknown client and ``ValueError`` for a scope the client does not hold.
        """
        client = self._clients[client_id]
        if not client.check_grant_type(CLIENT_CREDENTIALS):
            raise ValueError(f"client {client_id!r} may not use the client credentials grant")
        allowed = client.get_allowed_scope(self._requested_scope(scopes))
        if allowed is None:
            raise ValueError(f"client {client_id!r} does not hold every requested scope")
        token = self._server.generate_token(
            grant_type=CLIENT_CREDENTIALS, client=client, scope=allowed, include_refresh_token=False
        )
        access_token = token["access_token"]
        assert isinstance(access_token, str)
        return access_token

    def issue_employer_token(
        self,
        username: str,
        *,
        client_id: str = EMPLOYER_CLIENT_ID,
        scopes: Iterable[str] | None = None,
    ) -> str:
        """Issue the access token an employer would get by signing in through ``client_id`` (development
        convenience for ``hrss-credit token employer --user USCC``; no password is asked).

        The token is the one the authorization code grant issues: ``sub`` ``employer:<username>`` and the
        account's ``uscc``. Raises ``ValueError`` when employer login is not enabled, the client may not use
        the authorization code grant or does not hold a requested scope, and ``KeyError`` for an unknown
        account or client.
        """
        if self._accounts is None:
            raise ValueError("employer login is not enabled (no employer accounts)")
        account = self._accounts.get(username)
        if account is None:
            raise KeyError(username)
        client = self._clients[client_id]
        if not client.check_grant_type(AUTHORIZATION_CODE):
            raise ValueError(f"client {client_id!r} may not use the authorization code grant")
        allowed = client.get_allowed_scope(self._requested_scope(scopes))
        if allowed is None:
            raise ValueError(f"client {client_id!r} does not hold every requested scope")
        token = self._server.generate_token(
            grant_type=AUTHORIZATION_CODE,
            client=client,
            user=ResourceOwner(account),
            scope=allowed,
            include_refresh_token=False,
        )
        access_token = token["access_token"]
        assert isinstance(access_token, str)
        return access_token

    # -- endpoints -----------------------------------------------------------------------------------------

    def _error(self, error: OAuth2Error) -> Response:
        response: Response = self._server.handle_error_response(None, error)
        return response

    @staticmethod
    def _throttled_token_response(retry_after: int) -> Response:
        return JSONResponse(
            {
                "error": "too_many_requests",
                "error_description": f"Too many failed authentication attempts; retry after {retry_after} seconds.",
            },
            status_code=429,
            headers={**NO_STORE, "Retry-After": str(retry_after)},
        )

    async def token_endpoint(self, request: Request) -> Response:
        """``POST /oauth/token`` (RFC 6749 §3.2, §4.1.3, §4.4.2, §5)."""
        try:
            prepared = await read_token_request(request)
        except InvalidRequestError as error:
            return self._error(error)

        # Only a request that carries a secret counts against its client id: a public client sends none
        # (nothing to guess), and counting it would let anyone lock the browser app out for everyone.
        form = prepared.form
        basic = basic_credentials(request.headers)
        claimed = basic[0] if basic is not None else form.get("client_id") if "client_secret" in form else None
        keys = [client_key(claimed)] if claimed else []
        keys.append(address_key(client_address(request)))
        refused = await self._gate.refuse(
            keys, self._throttled_token_response, lambda: self._error(_TemporarilyUnavailableError())
        )
        if refused is not None:
            return refused
        if not await self._keys_ready():
            return self._error(_TemporarilyUnavailableError())
        try:
            prepared = await self._with_taken_code(prepared)
        except Exception as exc:  # the code store is unreachable: the code is not spent, the client may retry
            log.warning("authorization code store unavailable: %s", type(exc).__name__)
            return self._error(_TemporarilyUnavailableError())

        try:
            response: Response = self._server.create_token_response(prepared)
        except InsecureTransportError as error:
            return self._error(error)
        if _is_invalid_client(response):
            await self._gate.count(keys, failed=True)
        elif response.status_code == 200 and claimed:
            await self._gate.count(keys[:1], failed=False)
        return response

    async def _keys_ready(self) -> bool:
        """Whether the shared keys are loaded, loading them now if need be (never logging them)."""
        try:
            await self.keys.load()
        except Exception as exc:  # whatever keeps the keys did not answer: 503 until it does
            log.warning("token signing keys unavailable: %s", type(exc).__name__)
            return False
        return True

    async def _with_taken_code(self, prepared: PreparedRequest) -> PreparedRequest:
        """The token request with its code taken from the store, for the grant to check (``auth.codes``).

        The client authenticates first, so that a wrong secret does not spend the code; Authlib then
        authenticates it again and answers a failure itself. Taking spends the code whatever follows (a wrong
        verifier or redirect URI): a code that reached the wrong client is worth one attempt at most.
        """
        code = prepared.form.get("code")
        if self._login is None or prepared.form.get("grant_type") != AUTHORIZATION_CODE or not code:
            return prepared
        try:
            self._server.authenticate_client(self._server.create_oauth2_request(prepared), CODE_AUTH_METHODS)
        except OAuth2Error:
            return prepared
        return dataclasses.replace(prepared, taken_code=(code, await self._codes.take(code)))

    # -- the authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2) ------------------------------------------

    async def authorize_endpoint(self, request: Request) -> Response:
        """``GET /oauth/authorize`` shows the login form; ``POST /oauth/authorize`` signs the employer in
        (``auth.login``). Without employer accounts there is nothing to sign in to: a 404 page."""
        if self._login is None:
            return error_page(
                404,
                "not_found",
                ("未启用用人单位登录", "Employer sign-in is not enabled"),
                ("此服务器未配置用人单位账户。", "This server has no employer accounts configured."),
            )
        if not await self._keys_ready():
            return unavailable_page()
        if request.method == "POST":
            return await self._login.sign_in(request)
        return self._login.show_form(request)

    # -- discovery -----------------------------------------------------------------------------------------

    async def jwks_endpoint(self, request: Request) -> Response:
        """``GET /.well-known/jwks.json``: the public signing key (RFC 7517 §5), never the private half."""
        if not await self._keys_ready():
            return self._error(_TemporarilyUnavailableError())
        return JSONResponse(dict(self.keys.public_jwks()), headers={"Cache-Control": "public, max-age=300"})

    async def metadata_endpoint(self, request: Request) -> Response:
        """``GET /.well-known/oauth-authorization-server``: RFC 8414 §2 metadata."""
        return JSONResponse(self.metadata(), headers={"Cache-Control": "public, max-age=300"})

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 authorization server metadata document.

        The authorization endpoint, the ``code`` response type, PKCE ``S256`` (RFC 7636 §6.2, RFC 8414 §2)
        and token endpoint authentication ``none`` appear only when employer login is enabled.
        """
        metadata: dict[str, Any] = {
            "issuer": self.issuer,
            "token_endpoint": self.token_endpoint_url,
            "jwks_uri": self.jwks_uri,
            "grant_types_supported": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "scopes_supported": list(self.scopes_supported),
            # No authorization endpoint without employer accounts.
            "response_types_supported": [],
        }
        if self._accounts is not None:
            metadata.update(
                {
                    "authorization_endpoint": self.authorization_endpoint_url,
                    "grant_types_supported": [CLIENT_CREDENTIALS, AUTHORIZATION_CODE],
                    "token_endpoint_auth_methods_supported": list(CODE_AUTH_METHODS),
                    "response_types_supported": ["code"],
                    "response_modes_supported": ["query"],
                    "code_challenge_methods_supported": ["S256"],
                    "authorization_response_iss_parameter_supported": True,
                }
            )
        return metadata

    def routes(self) -> list[Route]:
        """The routes to mount at the root of the application."""
        return [
            Route(TOKEN_PATH, self.token_endpoint, methods=["POST"]),
            Route(AUTHORIZE_PATH, self.authorize_endpoint, methods=["GET", "POST"]),
            Route(JWKS_PATH, self.jwks_endpoint, methods=["GET"]),
            Route(METADATA_PATH, self.metadata_endpoint, methods=["GET"]),
        ]
