"""The built-in OAuth 2.0 authorization server of the embedded / demo setup, built on Authlib.

It issues JWT access tokens (RFC 9068) to the registered confidential clients through the client
credentials grant (RFC 6749 §4.4), authenticating them with ``client_secret_basic`` or
``client_secret_post`` (RFC 6749 §2.3.1), and publishes its metadata (RFC 8414) and its public signing key
as a JWK Set (RFC 7517), which is all a resource server needs to validate the tokens (``auth.tokens``). A
production deployment may point the API at an external authorization server instead; nothing else depends
on this module.

Authlib has no Starlette server integration, so ``_AuthlibServer`` is one: Starlette parses requests
asynchronously while Authlib's grant handling is synchronous, so the endpoint reads and parses the body
first and then hands a fully prepared request to Authlib. Token issuance is a single ECDSA signature, cheap
enough to run on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    ClientMixin,
    InsecureTransportError,
    InvalidRequestError,
    JsonPayload,
    JsonRequest,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clients import ALL_SCOPES, Client
from .keys import SigningKeys

__all__ = ["BuiltinAuthorizationServer"]

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"  # noqa: S105  (a path, not a password)
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

CLIENT_CREDENTIALS = "client_credentials"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
MAX_TOKEN_REQUEST_BYTES = 16 * 1024
"""A token request is a handful of short parameters; anything larger is refused unread."""

RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "auth_time", "acr", "amr"}
)
"""Claims the token generator sets itself (RFC 7519 §4.1, RFC 9068 §2.2); a client's extra claims may not
override them."""

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_DUMMY_SECRET = b"\x00" * 32


# ----------------------------------------------------------------------------------------------------------
# The client model Authlib works with


class _OAuthClient(ClientMixin):  # type: ignore[misc]  # Authlib ships no type information
    """Adapts a :class:`Client` to Authlib's ``ClientMixin`` (RFC 6749 §2: a confidential client)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Client credentials has no redirection endpoint (RFC 6749 §4.4).
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        # Constant time, on bytes: hmac.compare_digest refuses non-ASCII str, and a secret may be anything.
        return hmac.compare_digest(client_secret.encode("utf-8"), self.client.secret.encode("utf-8"))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """RFC 6749 §3.3: no scope requested means the client's full scope; a requested scope narrows it.

        A requested scope the client does not hold makes the request fail (``None`` makes Authlib raise
        ``invalid_scope``) instead of being silently dropped, so a misconfigured caller learns at once.
        """
        if not scope or not scope.strip():
            return " ".join(sorted(self.client.scopes))
        requested = set(scope.split())
        if not requested <= self.client.scopes:
            return None
        return " ".join(sorted(requested))


# ----------------------------------------------------------------------------------------------------------
# Requests as Authlib sees them


@dataclass(frozen=True)
class _PreparedRequest:
    """A Starlette request whose body has already been read and parsed (Authlib itself is synchronous)."""

    method: str
    url: str
    headers: Headers
    form: dict[str, str]
    datalist: dict[str, list[str]]
    args: dict[str, str]
    json: Any = None


class _FormPayload(OAuth2Payload):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, form: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = form
        self._datalist: defaultdict[str, list[str]] = defaultdict(list, datalist)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, prepared: _PreparedRequest) -> None:
        # Raises InsecureTransportError for plain http to a non-loopback host (RFC 6749 §3.2 requires TLS).
        super().__init__(method=prepared.method, uri=prepared.url, headers=prepared.headers)
        self._prepared = prepared
        # RFC 6749 §2.3.1, §4.4.2: token request parameters travel in the body only, never in the URI.
        self.payload = _FormPayload(prepared.form, prepared.datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._prepared.args

    @property
    def form(self) -> dict[str, str]:
        return self._prepared.form


class _JsonPayload(JsonPayload):  # type: ignore[misc]  # Authlib ships no type information
    def __init__(self, data: Any) -> None:
        self._data = data

    @property
    def data(self) -> Any:
        return self._data


# ----------------------------------------------------------------------------------------------------------
# Client authentication (RFC 6749 §2.3.1)


def _basic_credentials(headers: Any) -> tuple[str, str] | None:
    """``Authorization: Basic`` credentials, or ``None`` when absent or malformed (never an exception)."""
    value = headers.get("authorization")
    if not isinstance(value, str):
        return None
    scheme, _, param = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(param.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None
    # RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding (as Authlib decodes).
    return unquote(client_id), unquote(secret)


def _authenticate(query_client: Any, client_id: Any, secret: Any) -> _OAuthClient | None:
    if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id or not secret:
        return None
    client = query_client(client_id)
    if not isinstance(client, _OAuthClient):
        # Burn a comparison anyway, and answer exactly as for a wrong secret: which client ids exist is not
        # revealed by status, body or (coarse) timing.
        hmac.compare_digest(secret.encode("utf-8"), _DUMMY_SECRET)
        return None
    return client if client.check_client_secret(secret) else None


def _authenticate_client_secret_basic(query_client: Any, request: Any) -> _OAuthClient | None:
    credentials = _basic_credentials(request.headers)
    if credentials is None:
        return None
    return _authenticate(query_client, *credentials)


def _authenticate_client_secret_post(query_client: Any, request: Any) -> _OAuthClient | None:
    form = request.form
    return _authenticate(query_client, form.get("client_id"), form.get("client_secret"))


# ----------------------------------------------------------------------------------------------------------
# Authlib integration


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]  # Authlib ships no type information
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    @hooked  # type: ignore[untyped-decorator]  # Authlib ships no type information
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's own version minus its ``log.debug("Issue token %r ...")``: a bearer token is a
        credential (RFC 6750 §5.3) and must not reach a log, whatever the log level."""
        token = self.generate_token(scope=self.request.payload.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, list(self.TOKEN_RESPONSE_HEADER)


class _TokenGenerator(JWTBearerTokenGenerator):  # type: ignore[misc]  # Authlib ships no type information
    """RFC 9068 access tokens: ``typ`` ``at+jwt`` (set by Authlib), ES256, our ``kid``, our audience."""

    def __init__(self, *, issuer: str, audience: str, keys: SigningKeys, ttl_seconds: int) -> None:
        super().__init__(issuer=issuer, alg=keys.alg, expires_generator=ttl_seconds)
        self._audience = audience
        # A KeySet rather than the bare key: when the header has no kid, joserfc picks a key from the set and
        # writes its kid into the header (Authlib's generator only sets alg and typ).
        self._key_set = KeySet([keys.private_key()])

    def get_jwks(self) -> KeySet:
        return self._key_set

    def get_audiences(self, client: Any, user: Any, scope: Any) -> str:
        # RFC 9068 §3: aud is the resource server, not the client (Authlib's default is the client id).
        return self._audience

    def get_extra_claims(self, client: Any, grant_type: Any, user: Any, scope: Any) -> dict[str, str]:
        if isinstance(client, _OAuthClient):
            return dict(client.client.extra_claims)
        return {}


class _AuthlibServer(AuthorizationServer):  # type: ignore[misc]  # Authlib ships no type information
    """The framework half of Authlib's ``AuthorizationServer`` for Starlette."""

    def __init__(self, clients: Mapping[str, _OAuthClient], scopes_supported: list[str]) -> None:
        super().__init__(scopes_supported=scopes_supported)
        self._clients = clients

    def query_client(self, client_id: str) -> _OAuthClient | None:
        return self._clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        # JWT access tokens are self-contained (RFC 9068): there is nothing to store.
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        client = kwargs.get("client")
        if name == "after_authenticate_client" and isinstance(client, _OAuthClient):
            log.debug("oauth client authenticated: %s", client.get_client_id())

    def create_oauth2_request(self, request: _PreparedRequest) -> OAuth2Request:
        return _StarletteOAuth2Request(request)

    def create_json_request(self, request: _PreparedRequest) -> JsonRequest:
        json_request = JsonRequest(request.method, request.url, request.headers)
        json_request.payload = _JsonPayload(request.json)
        return json_request

    def handle_response(self, status_code: int, payload: Any, headers: Iterable[tuple[str, str]]) -> Response:
        if isinstance(payload, dict):
            content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        else:
            content = str(payload or "").encode("utf-8")
        response = Response(content=content, status_code=status_code)
        for name, value in headers:
            response.headers.append(name, value)
        # RFC 6749 §5.1: token responses (successes and errors alike here) must not be cached.
        for name, value in _NO_STORE.items():
            if name.lower() not in response.headers:
                response.headers[name] = value
        return response


# ----------------------------------------------------------------------------------------------------------
# The public face


class BuiltinAuthorizationServer:
    """Authorization server for the registered clients, issuing RFC 9068 JWT access tokens.

    ``issuer`` is the public base URL (RFC 8414 §2: no query or fragment); the endpoints are published under
    it. ``audience`` is the resource identifier the API accepts in ``aud`` (e.g. ``hrss-credit``).
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: SigningKeys,
        clients: Sequence[Client],
        token_ttl_seconds: int = 3600,
    ) -> None:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("issuer must be an http(s) URL without query or fragment (RFC 8414 §2)")
        if not audience:
            raise ValueError("audience is required")
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        registered: dict[str, _OAuthClient] = {}
        for client in clients:
            if client.client_id in registered:
                raise ValueError(f"client {client.client_id!r} is registered twice")
            reserved = RESERVED_CLAIMS & set(client.extra_claims)
            if reserved:
                raise ValueError(f"client {client.client_id!r} may not set claims {sorted(reserved)}")
            registered[client.client_id] = _OAuthClient(client)

        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.token_ttl_seconds = token_ttl_seconds
        self._clients = registered
        base = issuer.rstrip("/")
        self.token_endpoint_url = base + TOKEN_PATH
        self.jwks_uri = base + JWKS_PATH
        self.scopes_supported = sorted(ALL_SCOPES.union(*(c.client.scopes for c in registered.values())))

        server = _AuthlibServer(registered, self.scopes_supported)
        server.register_client_auth_method("client_secret_basic", _authenticate_client_secret_basic)
        server.register_client_auth_method("client_secret_post", _authenticate_client_secret_post)
        server.register_grant(_ClientCredentialsGrant)
        server.register_token_generator(
            "default",
            _TokenGenerator(issuer=issuer, audience=audience, keys=keys, ttl_seconds=token_ttl_seconds),
        )
        self._server = server

    # -- issuing without HTTP (CLI) ------------------------------------------------------------------------

    def issue_token(self, client_id: str, *, scopes: Iterable[str] | None = None) -> str:
        """Issue an access token for ``client_id`` exactly as the token endpoint would (for the CLI).

        ``scopes`` narrows the client's scopes (``None`` or empty: all of them). Raises ``KeyError`` for an
        unknown client and ``ValueError`` for a scope the client does not hold.
        """
        client = self._clients[client_id]
        if not client.check_grant_type(CLIENT_CREDENTIALS):
            raise ValueError(f"client {client_id!r} may not use the client credentials grant")
        requested: str | None = None
        if scopes is not None:
            items = scopes.split() if isinstance(scopes, str) else list(scopes)
            if any(not item or any(ch.isspace() for ch in item) for item in items):
                raise ValueError("a scope is a non-empty string without spaces")
            requested = " ".join(items)
        allowed = client.get_allowed_scope(requested)
        if allowed is None:
            raise ValueError(f"client {client_id!r} does not hold every requested scope")
        token = self._server.generate_token(
            grant_type=CLIENT_CREDENTIALS, client=client, scope=allowed, include_refresh_token=False
        )
        access_token = token["access_token"]
        assert isinstance(access_token, str)
        return access_token

    # -- endpoints -----------------------------------------------------------------------------------------

    def _error(self, error: OAuth2Error) -> Response:
        response: Response = self._server.handle_error_response(None, error)
        return response

    async def token_endpoint(self, request: Request) -> Response:
        """``POST /oauth/token`` (RFC 6749 §3.2, §4.4.2, §5)."""
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            return self._error(InvalidRequestError("The body must be application/x-www-form-urlencoded."))
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_TOKEN_REQUEST_BYTES:
                return self._error(InvalidRequestError("The request body is too large."))
        try:
            pairs = parse_qsl(bytes(body).decode("utf-8"), keep_blank_values=True, max_num_fields=64)
        except ValueError:  # also UnicodeDecodeError
            return self._error(InvalidRequestError("The request body is not valid form data."))
        datalist: dict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            datalist[name].append(value)
        if any(len(values) > 1 for values in datalist.values()):
            # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
            return self._error(InvalidRequestError("A parameter is included more than once."))
        form = {name: values[0] for name, values in datalist.items()}
        if not form.get("grant_type"):
            return self._error(InvalidRequestError("Missing 'grant_type' parameter."))
        if "client_secret" in form and _basic_credentials(request.headers) is not None:
            # RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request.
            return self._error(InvalidRequestError("Use one client authentication method per request."))

        prepared = _PreparedRequest(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            form=form,
            datalist=dict(datalist),
            args=dict(request.query_params),
        )
        try:
            response: Response = self._server.create_token_response(prepared)
        except InsecureTransportError as error:
            return self._error(error)
        return response

    async def jwks_endpoint(self, request: Request) -> Response:
        """``GET /.well-known/jwks.json``: the public signing key (RFC 7517 §5), never the private half."""
        return JSONResponse(self.keys.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

    async def metadata_endpoint(self, request: Request) -> Response:
        """``GET /.well-known/oauth-authorization-server``: RFC 8414 §2 metadata."""
        return JSONResponse(self.metadata(), headers={"Cache-Control": "public, max-age=300"})

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 authorization server metadata document."""
        return {
            "issuer": self.issuer,
            "token_endpoint": self.token_endpoint_url,
            "jwks_uri": self.jwks_uri,
            "grant_types_supported": [CLIENT_CREDENTIALS],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "scopes_supported": list(self.scopes_supported),
            # No authorization endpoint yet (the employer's authorization code + PKCE flow comes later).
            "response_types_supported": [],
        }

    def routes(self) -> list[Route]:
        """The three routes to mount at the root of the application."""
        return [
            Route(TOKEN_PATH, self.token_endpoint, methods=["POST"]),
            Route(JWKS_PATH, self.jwks_endpoint, methods=["GET"]),
            Route(METADATA_PATH, self.metadata_endpoint, methods=["GET"]),
        ]
