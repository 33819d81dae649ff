"""Authlib's authorization server for Starlette, with this server's grants and token generator.

Authlib has no Starlette server integration, so :class:`AuthlibServer` is one: Starlette parses requests
asynchronously while Authlib's grant handling is synchronous, so an endpoint reads and parses the body first
and then hands a fully prepared request (``auth.oauth_requests``) to Authlib. Token issuance is a single
ECDSA signature, cheap enough to run on the event loop.

:func:`build_authlib_server` registers the client authentication methods, the client credentials grant
(RFC 6749 §4.4), the authorization code grant with PKCE when there are employer accounts (``auth.codes``),
and :class:`TokenGenerator`, which issues RFC 9068 JWT access tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import AuthorizationServer, JsonRequest, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientCredentialsGrant as AuthlibClientCredentialsGrant
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from starlette.responses import Response

from .accounts import AccountStore
from .codes import AuthorizationCodeGrant, S256CodeChallenge
from .oauth_clients import (
    AUTH_METHODS,
    OAuthClient,
    ResourceOwner,
    authenticate_client_secret_basic,
    authenticate_client_secret_post,
    authenticate_none,
)
from .oauth_requests import JsonRequestPayload, PreparedRequest, StarletteOAuth2Request
from .shared_keys import SharedKeys

__all__ = [
    "NO_STORE",
    "RESERVED_CLAIMS",
    "AuthlibServer",
    "ClientCredentialsGrant",
    "TokenGenerator",
    "build_authlib_server",
]

# Every line of the built-in authorization server goes to one logger, which log filters and alerts name.
log = logging.getLogger("auth.server")

RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "auth_time", "acr", "amr", "uscc"}
)
"""Claims the token generator sets itself (RFC 7519 §4.1, RFC 9068 §2.2), and ``uscc``, which comes from an
employer account only; a client's extra claims may not override them."""

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class ClientCredentialsGrant(AuthlibClientCredentialsGrant):  # type: ignore[misc]  # Authlib ships no type information
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    @hooked  # type: ignore[untyped-decorator]  # Authlib ships no type information
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's own version minus its ``log.debug("Issue token %r ...")``: a bearer token is a
        credential (RFC 6750 §5.3) and must not reach a log, whatever the log level."""
        token = self.generate_token(scope=self.request.payload.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, list(self.TOKEN_RESPONSE_HEADER)


class TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]  # Authlib ships no type information
    """RFC 9068 access tokens: ``typ`` ``at+jwt`` (set by Authlib), ES256, our ``kid``, our audience."""

    def __init__(self, *, issuer: str, audience: str, keys: SharedKeys, ttl_seconds: int) -> None:
        super().__init__(issuer=issuer, alg=keys.alg, expires_generator=ttl_seconds)
        self._audience = audience
        self._keys = keys
        self._key_set: tuple[str, KeySet] | None = None

    def get_jwks(self) -> KeySet:
        # A KeySet rather than the bare key: when the header has no kid, joserfc picks a key from the set and
        # writes its kid into the header (Authlib's generator only sets alg and typ). Made once the shared key
        # is loaded, which is after this generator is built.
        kid = self._keys.kid
        if self._key_set is None or self._key_set[0] != kid:
            self._key_set = (kid, KeySet([self._keys.private_key()]))
        return self._key_set[1]

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        # RFC 9068 §3: aud is the resource server, not the client (Authlib's default is the client id).
        return self._audience

    def get_extra_claims(self, client: Any, grant_type: Any, user: Any, scope: Any) -> dict[str, str]:
        claims = dict(client.client.extra_claims) if isinstance(client, OAuthClient) else {}
        if isinstance(user, ResourceOwner):
            # The employer's binding to its own subject: from the account, never from any request parameter.
            claims["uscc"] = user.account.uscc
        return claims


class AuthlibServer(AuthorizationServer):  # type: ignore[misc]  # Authlib ships no type information
    """The framework half of Authlib's ``AuthorizationServer`` for Starlette."""

    def __init__(
        self,
        clients: Mapping[str, OAuthClient],
        scopes_supported: list[str],
        *,
        issuer: str,
        accounts: AccountStore | None,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(scopes_supported=scopes_supported)
        self._clients = clients
        self.issuer = issuer
        self.accounts = accounts
        self.clock = clock

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self._clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # JWT access tokens are self-contained (RFC 9068): there is nothing to store.
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        client = kwargs.get("client")
        if name == "after_authenticate_client" and isinstance(client, OAuthClient):
            log.debug("oauth client authenticated: %s", client.get_client_id())

    def create_oauth2_request(self, request: PreparedRequest) -> OAuth2Request:
        return StarletteOAuth2Request(request)

    def create_json_request(self, request: PreparedRequest) -> JsonRequest:
        json_request = JsonRequest(request.method, request.url, request.headers)
        json_request.payload = JsonRequestPayload(request.json)
        return json_request

    def handle_response(self, status_code: int, payload: Any, headers: Iterable[tuple[str, str]]) -> Response:
        if isinstance(payload, dict):
            content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        else:
            content = str(payload or "").encode("utf-8")
        response = Response(content=content, status_code=status_code)
        for name, value in headers:
            response.headers.append(name, value)
        # RFC 6749 §5.1: token responses (successes and errors alike here) must not be cached; nor may an
        # authorization response, whose Location carries a code.
        for name, value in NO_STORE.items():
            if name.lower() not in response.headers:
                response.headers[name] = value
        return response

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        if error.redirect_uri:
            # An authorization error sent back to the (validated) redirect URI (RFC 6749 §4.1.2.1), with the
            # issuer as in a success (RFC 9207 §2).
            params = [*error.get_body(), ("iss", self.issuer)]
            location = add_params_to_uri(error.redirect_uri, params, error.redirect_fragment)
            return self.handle_response(302, "", [("Location", location)])
        response: Response = super().handle_error_response(request, error)
        return response


def build_authlib_server(
    clients: Mapping[str, OAuthClient],
    scopes_supported: list[str],
    *,
    issuer: str,
    audience: str,
    keys: SharedKeys,
    token_ttl_seconds: int,
    accounts: AccountStore | None,
    clock: Callable[[], float],
) -> AuthlibServer:
    """The Authlib server for ``clients``: the employer's authorization code grant (and client
    authentication ``none`` for its public client) only when there are ``accounts``."""
    server = AuthlibServer(clients, scopes_supported, issuer=issuer, accounts=accounts, clock=clock)
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    server.register_client_auth_method("client_secret_post", authenticate_client_secret_post)
    server.register_grant(ClientCredentialsGrant)
    if accounts is not None:
        server.register_client_auth_method("none", authenticate_none)
        server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_token_generator(
        "default",
        TokenGenerator(issuer=issuer, audience=audience, keys=keys, ttl_seconds=token_ttl_seconds),
    )
    return server
