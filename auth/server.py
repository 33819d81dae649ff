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

Authlib has no Starlette server integration; ``auth.authlib_server`` is one, with the grants and the token
generator. The password check (scrypt) runs in a worker thread.

Authorization codes, the pending-code bookkeeping and the key that signs login-form CSRF tokens live in the
memory of one process: the built-in server is for the embedded single-process setup. A deployment with
several processes or hosts must use an external authorization server (IdP) instead.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import (
    InsecureTransportError,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .accounts import MAX_USERNAME_LENGTH, AccountStore, normalize_username
from .authlib_server import NO_STORE, RESERVED_CLAIMS, build_authlib_server
from .clients import ALL_SCOPES, EMPLOYER_CLIENT_ID, Client
from .codes import AuthorizationCodeStore
from .csrf import CSRF_FIELD, LoginCsrf
from .keys import SigningKeys
from .oauth_clients import (
    AUTH_METHODS,
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    CODE_AUTH_METHODS,
    OAuthClient,
    ResourceOwner,
    basic_credentials,
)
from .oauth_requests import (
    PreparedRequest,
    client_address,
    is_form_encoded,
    read_form_body,
    read_token_request,
)
from .templates import render_error_page, render_login_page
from .throttle import FailureThrottle, ThrottleGate, address_key, client_key, user_key

__all__ = ["BuiltinAuthorizationServer"]

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"  # noqa: S105  (a path, not a password)
AUTHORIZE_PATH = "/oauth/authorize"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"

MAX_AUTHORIZE_QUERY_CHARS = 8 * 1024
"""An authorization request URI with a longer query is refused (its parameters are short)."""

AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
"""The authorization request parameters (RFC 6749 §4.1.1, RFC 7636 §4.3) that are read and carried through
the login form; any other parameter (``uscc``, ``username`` …) is dropped before Authlib sees the request."""

_LOGIN_FAILED = ("统一社会信用代码或密码错误。", "The USCC or the password is incorrect.")
_FORM_EXPIRED = (
    "登录表单已失效，请重新登录。",
    "This sign-in form has expired or was not submitted from this page. Please sign in again.",
)
_TOO_MANY_FAILURES = (
    "登录失败次数过多，请稍后再试。",
    "Too many failed sign-in attempts. Please try again later.",
)


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
    injectable for tests. Codes and the CSRF key are held in this process's memory (see
    :class:`AuthorizationCodeStore`): a multi-process deployment must use an external IdP.

    ``throttle`` counts failed client secrets (per client id and address) and failed employer passwords (per
    user name and address); a blocked key is answered 429 with ``Retry-After`` before any secret is checked,
    so that a guesser learns nothing more, not even from the right secret. ``None``: no throttle.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: SigningKeys,
        clients: Sequence[Client],
        token_ttl_seconds: int = 3600,
        accounts: AccountStore | None = None,
        clock: Callable[[], float] = time.time,
        throttle: FailureThrottle | None = None,
    ) -> None:
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("issuer must be an http(s) URL without query or fragment (RFC 8414 §2)")
        if not audience:
            raise ValueError("audience is required")
        if token_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds must be positive")
        registered: dict[str, OAuthClient] = {}
        for client in clients:
            if client.client_id in registered:
                raise ValueError(f"client {client.client_id!r} is registered twice")
            reserved = RESERVED_CLAIMS & set(client.extra_claims)
            if reserved:
                raise ValueError(f"client {client.client_id!r} may not set claims {sorted(reserved)}")
            registered[client.client_id] = OAuthClient(client)

        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.token_ttl_seconds = token_ttl_seconds
        self._clients = registered
        self._accounts = accounts
        self._clock = clock
        self._gate = ThrottleGate(throttle, clock=clock)
        self._codes = AuthorizationCodeStore(clock=clock)
        self._csrf = LoginCsrf(clock=clock)
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
            codes=self._codes,
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

        try:
            response: Response = self._server.create_token_response(prepared)
        except InsecureTransportError as error:
            return self._error(error)
        if _is_invalid_client(response):
            await self._gate.count(keys, failed=True)
        elif response.status_code == 200 and claimed:
            await self._gate.count(keys[:1], failed=False)
        return response

    # -- the throttle --------------------------------------------------------------------------------------

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

    # -- the authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2) ------------------------------------------

    async def authorize_endpoint(self, request: Request) -> Response:
        """``GET /oauth/authorize`` shows the login form; ``POST /oauth/authorize`` signs the employer in.

        Errors about the client or the redirect URI are shown as a page and never redirected (RFC 6749
        §4.1.2.1, RFC 9700 §4.11: no open redirector); every other error goes back to the registered redirect
        URI with ``state``. The pages are HTML under a strict Content-Security-Policy, never cached, never
        framed (clickjacking, RFC 6749 §10.13).
        """
        if self._accounts is None:
            return self._page_error(
                404,
                "not_found",
                ("未启用用人单位登录", "Employer sign-in is not enabled"),
                ("此服务器未配置用人单位账户。", "This server has no employer accounts configured."),
            )
        if request.method == "POST":
            return await self._authorize_post(request)
        query = request.url.query
        if len(query) > MAX_AUTHORIZE_QUERY_CHARS:
            return self._invalid_request_page("The authorization request is too large.")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=64, errors="strict")
        except ValueError:  # also UnicodeDecodeError
            return self._invalid_request_page("The authorization request is not valid form data.")
        params = self._authorize_params(pairs)
        if params is None:
            # RFC 6749 §3.1: parameters MUST NOT be included more than once (and which one would count?).
            return self._invalid_request_page("A parameter is included more than once.")
        grant = self._consent_grant(request, params)
        if isinstance(grant, Response):
            return grant
        return self._login_page(request, grant, params, username="", error=None, status_code=200)

    async def _authorize_post(self, request: Request) -> Response:
        if not is_form_encoded(request):
            return self._invalid_request_page("The form must be sent as application/x-www-form-urlencoded.")
        body = await read_form_body(request)
        if body is None:
            return self._invalid_request_page("The form is too large.")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64, errors="strict")
        except ValueError:  # also UnicodeDecodeError
            return self._invalid_request_page("The form is not valid form data.")
        fields: dict[str, str] = {}
        for name, value in pairs:
            if name in fields:
                return self._invalid_request_page("A form field is included more than once.")
            fields[name] = value
        # Only the authorization request's own parameters reach Authlib; username, password, CSRF token and
        # anything else (a smuggled "uscc") stay out of the OAuth request.
        params = {name: fields[name] for name in AUTHORIZE_PARAMETERS if name in fields}
        grant = self._consent_grant(request, params)
        if isinstance(grant, Response):
            return grant
        username = fields.get("username", "")[:64]
        if not self._csrf.check(request, fields.get(CSRF_FIELD), params):
            log.info("employer sign-in form refused: missing, expired or wrong CSRF token")
            return self._login_page(request, grant, params, username=username, error=_FORM_EXPIRED, status_code=403)

        if fields.get("action", "login") == "cancel":
            # RFC 6749 §4.1.2.1 access_denied, back to the client with state.
            response: Response = self._server.create_authorization_response(grant.request, grant_user=None, grant=grant)
            self._csrf.delete_cookie(response, request)
            return response

        accounts = self._accounts
        assert accounts is not None
        # Unknown user names are counted too, or the first 429 would tell which accounts exist.
        keys = [
            user_key(normalize_username(fields.get("username", "")[:MAX_USERNAME_LENGTH])),
            address_key(client_address(request)),
        ]

        def throttled(retry_after: int) -> Response:
            page = self._login_page(
                request, grant, params, username=username, error=_TOO_MANY_FAILURES, status_code=429
            )
            page.headers["Retry-After"] = str(retry_after)
            return page

        refused = await self._gate.refuse(keys, throttled, self._unavailable_page)
        if refused is not None:
            return refused
        account = await run_in_threadpool(accounts.authenticate, fields.get("username", ""), fields.get("password", ""))
        if account is None:
            await self._gate.count(keys, failed=True)
            # One message for an unknown user and a wrong password (no user enumeration).
            log.info("employer sign-in failed for client %s", grant.request.client.get_client_id())
            return self._login_page(request, grant, params, username=username, error=_LOGIN_FAILED, status_code=200)
        await self._gate.count(keys[:1], failed=False)
        response = self._server.create_authorization_response(
            grant.request, grant_user=ResourceOwner(account), grant=grant
        )
        self._csrf.delete_cookie(response, request)
        log.info("employer %s signed in for client %s", account.username, grant.request.client.get_client_id())
        return response

    @staticmethod
    def _authorize_params(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
        seen: set[str] = set()
        params: dict[str, str] = {}
        for name, value in pairs:
            if name in seen:
                return None
            seen.add(name)
            if name in AUTHORIZE_PARAMETERS:
                params[name] = value
        return params

    def _consent_grant(self, request: Request, params: dict[str, str]) -> Any:
        """Authlib's validated grant for the authorization request ``params``, or the error response."""
        prepared = PreparedRequest(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            form=params,
            datalist={name: [value] for name, value in params.items()},
            args=params,
        )
        try:
            # RFC 6749 §3.1: TLS is required (plain http only to a loopback host); checked before any error
            # could be redirected.
            InsecureTransportError.check(prepared.url)
            self._check_response_type(params)
            return self._server.get_consent_grant(prepared)
        except OAuth2Error as error:
            if error.redirect_uri:
                return self._server.handle_error_response(None, error)
            return self._page_error(
                400,
                str(error.error),
                ("授权请求无效", "Invalid authorization request"),
                (
                    "无法处理此授权请求，也无法安全地返回应用。请从应用重新开始。",
                    f"{error.get_error_description() or 'The request is invalid.'} "
                    "The server cannot safely return you to the application; please start again from there.",
                ),
            )
        except ValueError:
            # Authlib refuses to build an error whose description would echo non-ASCII request text.
            return self._invalid_request_page("The authorization request is malformed.")

    def _check_response_type(self, params: Mapping[str, str]) -> None:
        """Refuse anything but ``response_type=code`` before Authlib does (Authlib echoes the value as the
        error description and fails on characters RFC 6749 §5.2 does not allow there).

        The error goes back to the client only when the client exists and the redirect URI is its registered
        one (or its only one), exactly as for every other error (RFC 6749 §4.1.2.1).
        """
        response_type = params.get("response_type")
        if response_type == "code":
            return
        redirect_uri: str | None = None
        client = self._server.query_client(params.get("client_id") or "")
        if isinstance(client, OAuthClient):
            requested = params.get("redirect_uri")
            if requested is None:
                redirect_uri = client.get_default_redirect_uri()
            elif client.check_redirect_uri(requested):
                redirect_uri = requested
        state = params.get("state") or None
        if not response_type:
            raise InvalidRequestError("Missing 'response_type' parameter.", state=state, redirect_uri=redirect_uri)
        raise UnsupportedResponseTypeError(
            None, "Only response_type=code is supported.", state=state, redirect_uri=redirect_uri
        )

    # -- pages ---------------------------------------------------------------------------------------------

    @staticmethod
    def _page_headers(redirect_uri: str | None) -> dict[str, str]:
        # form-action also lists the validated redirect URI's origin: Chromium and Safari apply form-action to
        # the redirect that follows a form submission (w3c/webappsec-csp#8), and this form ends in one.
        form_action = "'self'"
        if redirect_uri:
            parts = urlsplit(redirect_uri)
            form_action += f" {parts.scheme}://{parts.netloc}"
        return {
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    def _page_error(
        self, status_code: int, code: str, title: tuple[str, str], message: tuple[str, str]
    ) -> HTMLResponse:
        content = render_error_page(code=code, title=title, message=message)
        return HTMLResponse(content, status_code=status_code, headers=self._page_headers(None))

    def _unavailable_page(self) -> HTMLResponse:
        return self._page_error(
            503,
            "temporarily_unavailable",
            ("暂时无法登录", "Sign-in is temporarily unavailable"),
            ("请稍后再试。", "Please try again in a few minutes."),
        )

    def _invalid_request_page(self, description: str) -> HTMLResponse:
        return self._page_error(
            400,
            "invalid_request",
            ("授权请求无效", "Invalid authorization request"),
            ("无法处理此授权请求。请从应用重新开始。", f"{description} Please start again from the application."),
        )

    def _login_page(
        self,
        request: Request,
        grant: Any,
        params: Mapping[str, str],
        *,
        username: str,
        error: tuple[str, str] | None,
        status_code: int,
    ) -> HTMLResponse:
        nonce = self._csrf.nonce(request)
        hidden = {**params, CSRF_FIELD: self._csrf.token(nonce, params)}
        redirect_uri: str = grant.redirect_uri
        parts = urlsplit(redirect_uri)
        content = render_login_page(
            action=request.url.path,
            client_id=grant.request.client.get_client_id(),
            return_to=f"{parts.scheme}://{parts.netloc}{parts.path}",
            scopes=str(grant.request.scope or "").split(),
            hidden=hidden,
            username=username,
            error=error,
        )
        response = HTMLResponse(content, status_code=status_code, headers=self._page_headers(redirect_uri))
        self._csrf.set_cookie(response, request, nonce)
        return response

    # -- discovery -----------------------------------------------------------------------------------------

    async def jwks_endpoint(self, request: Request) -> Response:
        """``GET /.well-known/jwks.json``: the public signing key (RFC 7517 §5), never the private half."""
        return JSONResponse(self.keys.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

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
