"""The employer's sign-in at the authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.1.2).

``GET`` validates the authorization request and shows the login form; ``POST`` checks the form's CSRF token
(``auth.csrf``), then either cancels (``access_denied``) or checks the employer's password and redirects back
to the client with a single-use code. Errors about the client or the redirect URI are shown as a page and
never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11: no open redirector); every other error goes back to
the registered redirect URI with ``state``. The pages are HTML under a strict Content-Security-Policy,
never cached, never framed (clickjacking, RFC 6749 §10.13). The password check (scrypt) runs in a worker
thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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
from starlette.responses import HTMLResponse, Response

from .accounts import MAX_USERNAME_LENGTH, AccountStore, normalize_username
from .authlib_server import AuthlibServer
from .codes import ISSUED_CODE, AuthorizationCodeStore
from .csrf import CSRF_FIELD, LoginCsrf
from .oauth_clients import OAuthClient, ResourceOwner
from .oauth_requests import PreparedRequest, client_address, is_form_encoded, read_form_body
from .templates import render_error_page, render_login_page
from .throttle import ThrottleGate, address_key, user_key

__all__ = ["AUTHORIZE_PARAMETERS", "MAX_AUTHORIZE_QUERY_CHARS", "EmployerLogin", "error_page", "unavailable_page"]

# Every line of the built-in authorization server goes to one logger, which log filters and alerts name.
log = logging.getLogger("auth.server")

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
# Pages


def _page_headers(redirect_uri: str | None) -> dict[str, str]:
    # form-action also lists the validated redirect URI's origin: Chromium and Safari apply form-action to
    # the redirect that follows a form submission, and this form ends in one.
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


def error_page(status_code: int, code: str, title: tuple[str, str], message: tuple[str, str]) -> HTMLResponse:
    """An error page for a request that must not be redirected back to the client."""
    content = render_error_page(code=code, title=title, message=message)
    return HTMLResponse(content, status_code=status_code, headers=_page_headers(None))


def unavailable_page() -> HTMLResponse:
    return error_page(
        503,
        "temporarily_unavailable",
        ("暂时无法登录", "Sign-in is temporarily unavailable"),
        ("请稍后再试。", "Please try again in a few minutes."),
    )


def _invalid_request_page(description: str) -> HTMLResponse:
    return error_page(
        400,
        "invalid_request",
        ("授权请求无效", "Invalid authorization request"),
        ("无法处理此授权请求。请从应用重新开始。", f"{description} Please start again from the application."),
    )


def _unsafe_request_page(error: OAuth2Error) -> HTMLResponse:
    """The page for an authorization error that cannot go back to the client (unknown client, bad URI)."""
    return error_page(
        400,
        str(error.error),
        ("授权请求无效", "Invalid authorization request"),
        (
            "无法处理此授权请求，也无法安全地返回应用。请从应用重新开始。",
            f"{error.get_error_description() or 'The request is invalid.'} "
            "The server cannot safely return you to the application; please start again from there.",
        ),
    )


def _authorize_params(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """The authorization request's own parameters, or ``None`` when any parameter is repeated."""
    seen: set[str] = set()
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in seen:
            return None
        seen.add(name)
        if name in AUTHORIZE_PARAMETERS:
            params[name] = value
    return params


# ----------------------------------------------------------------------------------------------------------
# The sign-in


class EmployerLogin:
    """The authorization endpoint's two steps for the employers of ``accounts``.

    ``server`` validates the authorization request and issues the code, which goes to ``codes`` before the
    redirect carrying it is sent; ``csrf_key`` is the deployment's CSRF MAC key; ``gate`` throttles failed
    passwords per user name and address.
    """

    def __init__(
        self,
        server: AuthlibServer,
        accounts: AccountStore,
        *,
        codes: AuthorizationCodeStore,
        csrf_key: Callable[[], bytes],
        clock: Callable[[], float],
        gate: ThrottleGate,
    ) -> None:
        self._server = server
        self._accounts = accounts
        self._codes = codes
        self._gate = gate
        self._csrf = LoginCsrf(key=csrf_key, clock=clock)

    def show_form(self, request: Request) -> Response:
        """``GET``: the login form for a valid authorization request, or the error."""
        query = request.url.query
        if len(query) > MAX_AUTHORIZE_QUERY_CHARS:
            return _invalid_request_page("The authorization request is too large.")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=64, errors="strict")
        except ValueError:  # also UnicodeDecodeError
            return _invalid_request_page("The authorization request is not valid form data.")
        params = _authorize_params(pairs)
        if params is None:
            # RFC 6749 §3.1: parameters MUST NOT be included more than once (and which one would count?).
            return _invalid_request_page("A parameter is included more than once.")
        grant = self._consent_grant(request, params)
        if isinstance(grant, Response):
            return grant
        return self._login_page(request, grant, params, username="", error=None, status_code=200)

    async def sign_in(self, request: Request) -> Response:
        """``POST``: the submitted login form, checked for its CSRF token before anything else is done."""
        fields = await self._read_form(request)
        if isinstance(fields, Response):
            return fields
        # Only the authorization request's own parameters reach Authlib; username, password, CSRF token and
        # anything else (a smuggled "uscc") stay out of the OAuth request.
        params = {name: fields[name] for name in AUTHORIZE_PARAMETERS if name in fields}
        grant = self._consent_grant(request, params)
        if isinstance(grant, Response):
            return grant
        if not self._csrf.check(request, fields.get(CSRF_FIELD), params):
            log.info("employer sign-in form refused: missing, expired or wrong CSRF token")
            username = fields.get("username", "")[:64]
            return self._login_page(request, grant, params, username=username, error=_FORM_EXPIRED, status_code=403)
        if fields.get("action", "login") == "cancel":
            # RFC 6749 §4.1.2.1 access_denied, back to the client with state.
            return await self._authorization_response(request, grant, None)
        return await self._check_password(request, grant, params, fields)

    @staticmethod
    async def _read_form(request: Request) -> dict[str, str] | Response:
        """The login form's fields, or the error page when it is not one well-formed form."""
        if not is_form_encoded(request):
            return _invalid_request_page("The form must be sent as application/x-www-form-urlencoded.")
        body = await read_form_body(request)
        if body is None:
            return _invalid_request_page("The form is too large.")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64, errors="strict")
        except ValueError:  # also UnicodeDecodeError
            return _invalid_request_page("The form is not valid form data.")
        fields: dict[str, str] = {}
        for name, value in pairs:
            if name in fields:
                return _invalid_request_page("A form field is included more than once.")
            fields[name] = value
        return fields

    async def _check_password(
        self, request: Request, grant: Any, params: Mapping[str, str], fields: Mapping[str, str]
    ) -> Response:
        """The code for a right password; the form again, with the error, for a wrong one or a throttled key."""
        username = fields.get("username", "")[:64]
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

        refused = await self._gate.refuse(keys, throttled, unavailable_page)
        if refused is not None:
            return refused
        account = await run_in_threadpool(
            self._accounts.authenticate, fields.get("username", ""), fields.get("password", "")
        )
        if account is None:
            await self._gate.count(keys, failed=True)
            # One message for an unknown user and a wrong password (no user enumeration).
            log.info("employer sign-in failed for client %s", grant.request.client.get_client_id())
            return self._login_page(request, grant, params, username=username, error=_LOGIN_FAILED, status_code=200)
        await self._gate.count(keys[:1], failed=False)
        response = await self._authorization_response(request, grant, ResourceOwner(account))
        if response.status_code == 503:
            return response
        log.info("employer %s signed in for client %s", account.username, grant.request.client.get_client_id())
        return response

    async def _authorization_response(self, request: Request, grant: Any, owner: ResourceOwner | None) -> Response:
        """The redirect back to the client: a code for ``owner``, ``access_denied`` for ``None``. The form
        is done with, so its nonce cookie goes. A code the store could not keep is never sent: the browser
        would carry it to a token endpoint that cannot find it."""
        response: Response = self._server.create_authorization_response(grant.request, grant_user=owner, grant=grant)
        issued = getattr(grant.request, ISSUED_CODE, None)
        if issued is not None:
            try:
                await self._codes.save(*issued)
            except Exception as exc:  # the store is unreachable: the employer may try again shortly
                log.warning("authorization code not stored: %s", type(exc).__name__)
                return unavailable_page()
        self._csrf.delete_cookie(response, request)
        return response

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
            return _unsafe_request_page(error)
        except ValueError:
            # Authlib refuses to build an error whose description would echo non-ASCII request text.
            return _invalid_request_page("The authorization request is malformed.")

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
        response = HTMLResponse(content, status_code=status_code, headers=_page_headers(redirect_uri))
        self._csrf.set_cookie(response, request, nonce)
        return response
