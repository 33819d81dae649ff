"""The employer login of the built-in authorization server: RFC 6749 §4.1 authorization code + RFC 7636 PKCE.

A real Starlette app with ``server.routes()``, driven through httpx's ASGI transport, no mocks: the browser
part (authorize page, login form, redirect) and the client part (token request) are plain HTTP requests. Time
is an injected clock, never patched.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jws
from starlette.applications import Starlette

from auth.accounts import (
    DEMO_EMPLOYER_PASSWORD,
    AccountStore,
    EmployerAccount,
    demo_employer_accounts,
    hash_password,
    verify_password,
)
from auth.clients import ALL_SCOPES, EMPLOYER_SCOPES, Client, demo_clients, demo_employer_client
from auth.keys import SigningKeys
from auth.server import BuiltinAuthorizationServer
from auth.tokens import TokenValidator
from domain.taxonomy import Sector
from store.demo import named_subjects

ISSUER = "https://testserver"
AUDIENCE = "hrss-credit"
CLIENT_ID = "employer-portal"
CLIENT_SECRET = "demo-secret-employer-portal"
REDIRECT = "http://127.0.0.1:8000/oauth/callback"
OTHER_REDIRECT = "http://localhost:5173/callback"
SINGLE_REDIRECT = "https://portal.example/cb"
POLICY_MD = Path(__file__).resolve().parents[3] / "shared" / "contract" / "policy.md"


class Clock:
    """A clock the test moves by hand (the server's injectable ``clock``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def organizations() -> list[tuple[str, str]]:
    pairs = [(subject.uscc, subject.name) for subject in named_subjects() if subject.uscc]
    assert len(pairs) >= 2
    return pairs


@pytest.fixture(scope="module")
def accounts(organizations: list[tuple[str, str]]) -> AccountStore:
    return AccountStore(demo_employer_accounts(organizations))


@pytest.fixture(scope="module")
def uscc(organizations: list[tuple[str, str]]) -> str:
    return organizations[0][0]


@pytest.fixture(scope="module")
def other_uscc(organizations: list[tuple[str, str]]) -> str:
    return organizations[1][0]


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock(1_700_000_000.0)


def extra_clients() -> list[Client]:
    return [
        # A second public client with a single redirect URI (the default when the request omits it).
        Client(
            client_id="single-uri",
            audience="employer",
            scopes=frozenset({"subject:read"}),
            secret="",
            grant_types=frozenset({"authorization_code"}),
            redirect_uris=(SINGLE_REDIRECT,),
            public=True,
        ),
        # A confidential-only client: it may never authenticate with "none".
        Client(
            client_id="confidential-portal",
            audience="employer",
            scopes=frozenset({"subject:read", "grade:read"}),
            secret="confidential-secret",
            grant_types=frozenset({"authorization_code"}),
            redirect_uris=(REDIRECT,),
        ),
    ]


@pytest.fixture
def server(keys: SigningKeys, accounts: AccountStore, clock: Clock) -> BuiltinAuthorizationServer:
    return BuiltinAuthorizationServer(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=keys,
        clients=[*demo_clients(), demo_employer_client(), *extra_clients()],
        token_ttl_seconds=900,
        accounts=accounts,
        clock=clock,
    )


@pytest.fixture
async def http(server: BuiltinAuthorizationServer) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=server.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        yield client


# -- helpers -----------------------------------------------------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    return {html.unescape(name): html.unescape(value) for name, value in _HIDDEN.findall(page)}


def redirect_params(response: httpx.Response, redirect_uri: str = REDIRECT) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?"), location
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values())
    return {name: values[0] for name, values in parsed.items()}


def assert_error_page(response: httpx.Response, status: int = 400) -> None:
    """An error shown to the user, never a redirect (RFC 6749 §4.1.2.1)."""
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "code=" not in response.text


async def open_form(http: httpx.AsyncClient, params: Mapping[str, str]) -> dict[str, str]:
    page = await http.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = hidden_fields(page.text)
    assert "csrf_token" in fields
    return fields


async def sign_in(
    http: httpx.AsyncClient,
    params: Mapping[str, str],
    username: str,
    password: str = DEMO_EMPLOYER_PASSWORD,
    **extra: str,
) -> httpx.Response:
    fields = await open_form(http, params)
    return await http.post("/oauth/authorize", data={**fields, "username": username, "password": password, **extra})


async def authorization_code(
    http: httpx.AsyncClient, uscc: str, **overrides: str | None
) -> tuple[str, str, dict[str, str]]:
    """Sign in as ``uscc``; return (code, verifier, the authorization request's parameters)."""
    verifier, challenge = pkce()
    params = authorize_params(challenge, **overrides)
    response = await sign_in(http, params, uscc)
    query = redirect_params(response, params.get("redirect_uri", SINGLE_REDIRECT))
    assert query["state"] == params["state"]
    return query["code"], verifier, params


async def exchange(
    http: httpx.AsyncClient,
    code: str,
    verifier: str | None,
    *,
    redirect_uri: str | None = REDIRECT,
    client_id: str | None = CLIENT_ID,
    auth: tuple[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    if client_id is not None:
        data["client_id"] = client_id
    return await http.post("/oauth/token", data=data, auth=auth)  # type: ignore[arg-type]


async def validator(http: httpx.AsyncClient) -> TokenValidator:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    jwks = (await http.get(metadata["jwks_uri"])).json()
    return TokenValidator(issuer=metadata["issuer"], audience=AUDIENCE, jwks=jwks)


def assert_token_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()
    assert response.headers["cache-control"] == "no-store"


# -- the full flow -----------------------------------------------------------------------------------------


async def test_full_flow_public_client(http: httpx.AsyncClient, keys: SigningKeys, uscc: str) -> None:
    verifier, challenge = pkce()
    params = authorize_params(challenge)

    page = await http.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "统一社会信用代码" in page.text and "Password" in page.text and "密码" in page.text
    assert CLIENT_ID in page.text
    fields = hidden_fields(page.text)
    assert {name: fields[name] for name in params} == params

    response = await http.post(
        "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    )
    query = redirect_params(response)
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER  # RFC 9207
    assert set(query) == {"code", "state", "iss"}
    assert response.headers["cache-control"] == "no-store"

    token_response = await exchange(http, query["code"], verifier)
    assert token_response.status_code == 200, token_response.text
    body = token_response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert "refresh_token" not in body
    assert set(body["scope"].split()) == EMPLOYER_SCOPES
    assert token_response.headers["cache-control"] == "no-store"

    header = jws.extract_compact(body["access_token"].encode("ascii")).headers()
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": keys.kid}
    principal = (await validator(http)).validate(body["access_token"])
    assert principal.client_id == CLIENT_ID
    assert principal.subject == "employer:" + uscc
    assert principal.scopes == EMPLOYER_SCOPES
    claims = principal.claims
    assert claims["uscc"] == uscc
    assert claims["sub"] == "employer:" + uscc
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]


async def test_full_flow_confidential_client(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    response = await exchange(http, code, verifier, client_id=None, auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200, response.text
    principal = (await validator(http)).validate(response.json()["access_token"])
    assert principal.claims["uscc"] == uscc
    assert principal.client_id == CLIENT_ID


async def test_wrong_client_secret_never_falls_back_to_none(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    basic = await exchange(http, code, verifier, auth=(CLIENT_ID, "wrong"))
    assert_token_error(basic, "invalid_client", 401)
    post = await exchange(http, code, verifier, client_secret="wrong")
    assert_token_error(post, "invalid_client", 401)
    # Client authentication comes first: the failed attempts did not consume the code.
    assert (await exchange(http, code, verifier)).status_code == 200


async def test_confidential_only_client_must_authenticate(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc, client_id="confidential-portal")
    assert_token_error(await exchange(http, code, verifier, client_id="confidential-portal"), "invalid_client", 401)
    response = await exchange(http, code, verifier, client_id=None, auth=("confidential-portal", "confidential-secret"))
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "grade:read subject:read"


async def test_client_id_must_match_authenticated_client(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    response = await exchange(http, code, verifier, client_id="single-uri", auth=(CLIENT_ID, CLIENT_SECRET))
    assert_token_error(response, "invalid_client")


async def test_state_round_trips_exactly(http: httpx.AsyncClient, uscc: str) -> None:
    state = 'a b&c=d/é?"<>'
    _, challenge = pkce()
    response = await sign_in(http, authorize_params(challenge, state=state), uscc)
    assert redirect_params(response)["state"] == state


async def test_without_state(http: httpx.AsyncClient, uscc: str) -> None:
    verifier, challenge = pkce()
    response = await sign_in(http, authorize_params(challenge, state=None), uscc)
    query = redirect_params(response)
    assert "state" not in query
    assert (await exchange(http, query["code"], verifier)).status_code == 200


async def test_login_accepts_lower_case_and_full_width_uscc(http: httpx.AsyncClient, uscc: str) -> None:
    full_width = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in uscc)
    for typed in (uscc.lower(), f"  {full_width} "):
        verifier, challenge = pkce()
        response = await sign_in(http, authorize_params(challenge), typed)
        token = await exchange(http, redirect_params(response)["code"], verifier)
        assert (await validator(http)).validate(token.json()["access_token"]).claims["uscc"] == uscc


# -- scopes ------------------------------------------------------------------------------------------------


async def test_scope_is_intersected_with_the_client_scopes(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc, scope="subject:read audit:read record:details")
    response = await exchange(http, code, verifier)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "record:details subject:read"
    principal = (await validator(http)).validate(response.json()["access_token"])
    assert principal.scopes == {"subject:read", "record:details"}


@pytest.mark.parametrize("scope", ["audit:read", "everything", "subject:read no-such-scope"])
async def test_invalid_scope_is_redirected(http: httpx.AsyncClient, scope: str) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, scope=scope)
    query = redirect_params(await http.get("/oauth/authorize", params=params))
    assert query["error"] == "invalid_scope"
    assert query["state"] == params["state"]
    assert "code" not in query


# -- PKCE (RFC 7636) ---------------------------------------------------------------------------------------


async def test_missing_code_challenge(http: httpx.AsyncClient) -> None:
    params = authorize_params("x", code_challenge=None, code_challenge_method=None)
    query = redirect_params(await http.get("/oauth/authorize", params=params))
    assert query["error"] == "invalid_request"
    assert "code challenge required" in query["error_description"]
    assert query["state"] == params["state"]
    assert "code" not in query


@pytest.mark.parametrize(
    "method",
    [
        "plain",  # RFC 7636 §7.2: refused outright
        None,  # a missing method means "plain" (RFC 7636 §4.3)
        "s256",  # exact match
        "S512",
    ],
)
async def test_only_s256(http: httpx.AsyncClient, method: str | None) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, code_challenge_method=method)
    query = redirect_params(await http.get("/oauth/authorize", params=params))
    assert query["error"] == "invalid_request"
    assert "code" not in query


async def test_plain_challenge_equal_to_verifier_is_refused(http: httpx.AsyncClient) -> None:
    verifier, _ = pkce()
    params = authorize_params(verifier, code_challenge_method="plain")
    assert redirect_params(await http.get("/oauth/authorize", params=params))["error"] == "invalid_request"


@pytest.mark.parametrize("challenge", ["short", "x" * 129, "a" * 42 + "!"])
async def test_malformed_code_challenge(http: httpx.AsyncClient, challenge: str) -> None:
    query = redirect_params(await http.get("/oauth/authorize", params=authorize_params(challenge)))
    assert query["error"] == "invalid_request"


async def test_wrong_code_verifier(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    other_verifier, _ = pkce()
    response = await exchange(http, code, other_verifier)
    assert_token_error(response, "invalid_grant")
    # The code was spent by the failed attempt: a guessed verifier gets exactly one try.
    assert_token_error(await exchange(http, code, verifier), "invalid_grant")


@pytest.mark.parametrize("auth", [None, (CLIENT_ID, CLIENT_SECRET)])
async def test_missing_code_verifier(http: httpx.AsyncClient, uscc: str, auth: tuple[str, str] | None) -> None:
    code, _, _ = await authorization_code(http, uscc)
    response = await exchange(http, code, None, client_id=None if auth else CLIENT_ID, auth=auth)
    assert_token_error(response, "invalid_request")


# -- the code: single use, short-lived, bound to client and redirect URI ------------------------------------


async def test_code_reuse(http: httpx.AsyncClient, uscc: str, caplog: pytest.LogCaptureFixture) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    assert (await exchange(http, code, verifier)).status_code == 200
    with caplog.at_level(logging.WARNING, logger="auth.server"):
        assert_token_error(await exchange(http, code, verifier), "invalid_grant")
    assert any("presented again" in record.getMessage() for record in caplog.records)


async def test_code_expires_after_60_seconds(http: httpx.AsyncClient, uscc: str, clock: Clock) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    clock.now += 59
    assert (await exchange(http, code, verifier)).status_code == 200

    code, verifier, _ = await authorization_code(http, uscc)
    clock.now += 60
    assert_token_error(await exchange(http, code, verifier), "invalid_grant")


async def test_unknown_code(http: httpx.AsyncClient) -> None:
    verifier, _ = pkce()
    assert_token_error(await exchange(http, "not-a-code", verifier), "invalid_grant")
    assert_token_error(await exchange(http, "", verifier), "invalid_request")


async def test_code_is_bound_to_its_client(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    response = await exchange(http, code, verifier, client_id="single-uri", redirect_uri=REDIRECT)
    assert_token_error(response, "invalid_grant")
    assert_token_error(await exchange(http, code, verifier), "invalid_grant")  # and it is gone


@pytest.mark.parametrize("redirect_uri", [OTHER_REDIRECT, REDIRECT + "/", REDIRECT + "?x=1", None])
async def test_token_redirect_uri_must_match_the_authorization_request(
    http: httpx.AsyncClient, uscc: str, redirect_uri: str | None
) -> None:
    code, verifier, _ = await authorization_code(http, uscc)
    assert_token_error(await exchange(http, code, verifier, redirect_uri=redirect_uri), "invalid_grant")


async def test_single_registered_redirect_uri_is_the_default(http: httpx.AsyncClient, uscc: str) -> None:
    code, verifier, params = await authorization_code(http, uscc, client_id="single-uri", redirect_uri=None)
    assert "redirect_uri" not in params
    # Omitted in the authorization request: the token request may omit it or name the same URI, nothing else.
    assert_token_error(
        await exchange(http, code, verifier, client_id="single-uri", redirect_uri=REDIRECT), "invalid_grant"
    )
    code, verifier, _ = await authorization_code(http, uscc, client_id="single-uri", redirect_uri=None)
    response = await exchange(http, code, verifier, client_id="single-uri", redirect_uri=None)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "subject:read"


# -- errors that must not redirect (RFC 6749 §4.1.2.1) ------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/oauth/",  # a prefix of a registered URI
        "http://127.0.0.1:8000/oauth/callbac",
        REDIRECT + "/evil",  # the registered URI as a prefix
        REDIRECT + "?next=https://evil.example",  # an extra query
        REDIRECT + "#fragment",
        REDIRECT + "/",
        "http://127.0.0.1:8001/oauth/callback",  # another port
        "HTTP://127.0.0.1:8000/oauth/callback",  # no normalization
        "http://127.0.0.1:8000/OAUTH/callback",
        "https://evil.example/oauth/callback",
        "http://127.0.0.1:8000@evil.example/oauth/callback",
        SINGLE_REDIRECT,  # registered, but for another client
        "",
    ],
)
async def test_unregistered_redirect_uri_shows_error_page(http: httpx.AsyncClient, redirect_uri: str) -> None:
    _, challenge = pkce()
    response = await http.get("/oauth/authorize", params=authorize_params(challenge, redirect_uri=redirect_uri))
    assert_error_page(response)
    assert "invalid_request" in response.text
    assert "<form" not in response.text


async def test_missing_redirect_uri_with_several_registered(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    response = await http.get("/oauth/authorize", params=authorize_params(challenge, redirect_uri=None))
    assert_error_page(response)


@pytest.mark.parametrize("client_id", ["nobody", "", None, "procurement"])
async def test_unknown_or_unsuitable_client_shows_error_page(http: httpx.AsyncClient, client_id: str | None) -> None:
    _, challenge = pkce()
    response = await http.get("/oauth/authorize", params=authorize_params(challenge, client_id=client_id))
    assert_error_page(response)


async def test_tampered_redirect_uri_in_the_form_shows_error_page(http: httpx.AsyncClient, uscc: str) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    fields["redirect_uri"] = "https://evil.example/cb"
    response = await http.post(
        "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    )
    assert_error_page(response)


async def test_repeated_parameter_shows_error_page(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    query = httpx.QueryParams(authorize_params(challenge)).add("redirect_uri", OTHER_REDIRECT)
    assert_error_page(await http.get("/oauth/authorize", params=query))


@pytest.mark.parametrize("response_type", ["token", "code token", "id_token", 'x"y', "é", "", None])
async def test_unsupported_response_type(http: httpx.AsyncClient, response_type: str | None) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, response_type=response_type)
    # The client and the redirect URI are valid, so the error goes back to the client (RFC 6749 §4.1.2.1).
    query = redirect_params(await http.get("/oauth/authorize", params=params))
    assert query["error"] == ("unsupported_response_type" if response_type else "invalid_request")
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER
    assert "code" not in query


@pytest.mark.parametrize("redirect_uri", ["https://evil.example/cb", None])
async def test_unsupported_response_type_with_bad_redirect_uri(
    http: httpx.AsyncClient, redirect_uri: str | None
) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge, response_type="token", redirect_uri=redirect_uri)
    assert_error_page(await http.get("/oauth/authorize", params=params))


# -- the login form ----------------------------------------------------------------------------------------


def _masked(page: str) -> str:
    page = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)
    return re.sub(r'id="username" name="username" value="[^"]*"', 'id="username" name="username" value=""', page)


async def test_wrong_password_and_unknown_user_look_the_same(
    http: httpx.AsyncClient, uscc: str, organizations: list[tuple[str, str]]
) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge)
    wrong_password = await sign_in(http, params, uscc, "wrong-password")
    unknown_user = await sign_in(http, params, "91310000000000000X", "wrong-password")
    unknown_user_right_password = await sign_in(http, params, "91310000000000000X")
    for response in (wrong_password, unknown_user, unknown_user_right_password):
        assert response.status_code == 200
        assert "location" not in response.headers
        assert "The USCC or the password is incorrect." in response.text
        assert "统一社会信用代码或密码错误" in response.text
        assert organizations[0][1] not in response.text  # never the organization's name
        assert _masked(response.text) == _masked(wrong_password.text)
        assert response.headers.get("set-cookie", "").split(";")[0].split("=")[0] == "__Host-hrss-authorize"
    # The form can be submitted again from the error page.
    fields = hidden_fields(wrong_password.text)
    response = await http.post(
        "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    )
    assert "code" in redirect_params(response)


async def test_empty_credentials(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    response = await http.post("/oauth/authorize", data=fields)
    assert response.status_code == 200
    assert "The USCC or the password is incorrect." in response.text


async def test_cancel_returns_access_denied(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    params = authorize_params(challenge)
    fields = await open_form(http, params)
    query = redirect_params(await http.post("/oauth/authorize", data={**fields, "action": "cancel"}))
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]
    assert "code" not in query


async def test_login_page_headers(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    response = await http.get("/oauth/authorize", params=authorize_params(challenge))
    assert response.status_code == 200
    headers = response.headers
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    directives = {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1]
        for part in headers["content-security-policy"].split(";")
    }
    assert directives["default-src"] == "'none'"
    assert directives["style-src"] == "'unsafe-inline'"
    # 'self', plus the validated redirect URI's origin: Chromium applies form-action to the redirect that
    # follows the form submission.
    assert directives["form-action"] == "'self' http://127.0.0.1:8000"
    assert directives["frame-ancestors"] == "'none'"
    assert "<script" not in response.text
    cookie = headers["set-cookie"]
    assert cookie.startswith("__Host-hrss-authorize=")
    attributes = {item.strip().lower() for item in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path=/", "samesite=strict"} <= attributes

    error_page = await http.get("/oauth/authorize", params={"client_id": "nobody"})
    assert error_page.headers["x-frame-options"] == "DENY"
    assert error_page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in error_page.headers["content-security-policy"]


async def test_login_page_escapes_request_values(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    state = '"><script>alert(1)</script><input name="x'
    response = await http.get("/oauth/authorize", params=authorize_params(challenge, state=state))
    assert response.status_code == 200
    assert "<script>" not in response.text
    assert hidden_fields(response.text)["state"] == state


async def test_smuggled_parameters_are_not_carried(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    params = {**authorize_params(challenge), "uscc": "91310000000000000X", "username": "x", "password": "y"}
    fields = hidden_fields((await http.get("/oauth/authorize", params=params)).text)
    assert set(fields) == {*authorize_params(challenge), "csrf_token"}


# -- CSRF ----------------------------------------------------------------------------------------------------


def assert_refused_form(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert "location" not in response.headers
    assert "expired" in response.text
    assert 'name="csrf_token"' in response.text  # a fresh form to try again


async def test_csrf_token_missing_or_wrong(http: httpx.AsyncClient, uscc: str) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    credentials = {"username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    without = {name: value for name, value in fields.items() if name != "csrf_token"}
    assert_refused_form(await http.post("/oauth/authorize", data={**without, **credentials}))
    for bad in ("", "x", fields["csrf_token"] + "x", "1.abc", fields["csrf_token"].split(".")[0] + ".", "١٢.x"):
        assert_refused_form(await http.post("/oauth/authorize", data={**fields, **credentials, "csrf_token": bad}))
    # The genuine token still works.
    assert "code" in redirect_params(await http.post("/oauth/authorize", data={**fields, **credentials}))


async def test_csrf_token_is_bound_to_the_browser(http: httpx.AsyncClient, uscc: str) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    credentials = {"username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    http.cookies.clear()  # another browser: the attacker's page posts a token it fetched itself
    assert_refused_form(await http.post("/oauth/authorize", data={**fields, **credentials}))


async def test_csrf_token_is_bound_to_the_authorization_request(http: httpx.AsyncClient, uscc: str) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    _, attacker_challenge = pkce()
    credentials = {"username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    for name, value in (("code_challenge", attacker_challenge), ("state", "other"), ("scope", "subject:read")):
        tampered = {**fields, name: value}
        assert_refused_form(await http.post("/oauth/authorize", data={**tampered, **credentials}))


async def test_csrf_token_expires(http: httpx.AsyncClient, uscc: str, clock: Clock) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    clock.now += 601
    response = await http.post(
        "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    )
    assert_refused_form(response)


async def test_csrf_is_checked_before_the_password(http: httpx.AsyncClient, uscc: str) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    response = await http.post(
        "/oauth/authorize", data={**fields, "username": uscc, "password": "wrong", "csrf_token": "1.x"}
    )
    assert_refused_form(response)
    assert "incorrect" not in response.text


async def test_cancel_needs_the_csrf_token(http: httpx.AsyncClient) -> None:
    _, challenge = pkce()
    fields = await open_form(http, authorize_params(challenge))
    assert_refused_form(await http.post("/oauth/authorize", data={**fields, "action": "cancel", "csrf_token": ""}))


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"username=a", "text/plain"),
        (b"a=\xff", "application/x-www-form-urlencoded"),
        (b"a=%FF", "application/x-www-form-urlencoded"),
        (b"a=1&a=2", "application/x-www-form-urlencoded"),
        (b"a=" + b"b" * 20_000, "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_form(http: httpx.AsyncClient, content: bytes, content_type: str) -> None:
    response = await http.post("/oauth/authorize", content=content, headers={"Content-Type": content_type})
    assert_error_page(response)


async def test_plain_http_on_loopback_for_development(server: BuiltinAuthorizationServer, uscc: str) -> None:
    """The embedded setup runs on http://127.0.0.1:8000: no "__Host-" cookie (it needs https), no Secure."""
    app = Starlette(routes=server.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        verifier, challenge = pkce()
        page = await http.get("/oauth/authorize", params=authorize_params(challenge))
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("hrss-authorize=")
        assert "secure" not in cookie.lower()
        fields = hidden_fields(page.text)
        response = await http.post(
            "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
        )
        token = await exchange(http, redirect_params(response)["code"], verifier)
        assert token.status_code == 200, token.text


async def test_plain_http_to_a_remote_host_is_refused(
    server: BuiltinAuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    app = Starlette(routes=server.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://credit.example") as http:
        _, challenge = pkce()
        for params in (authorize_params(challenge), authorize_params(challenge, response_type="token")):
            response = await http.get("/oauth/authorize", params=params)
            assert_error_page(response)
            assert "insecure_transport" in response.text


# -- the uscc claim comes from the account only ------------------------------------------------------------


async def test_smuggled_uscc_does_not_change_the_token(http: httpx.AsyncClient, uscc: str, other_uscc: str) -> None:
    verifier, challenge = pkce()
    params = {**authorize_params(challenge), "uscc": other_uscc, "sub": "employer:" + other_uscc}
    page = await http.get("/oauth/authorize", params=params)
    fields = hidden_fields(page.text)
    response = await http.post(
        "/oauth/authorize",
        data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD, "uscc": other_uscc},
    )
    code = redirect_params(response)["code"]
    token = await exchange(http, code, verifier, uscc=other_uscc, sub="employer:" + other_uscc)
    assert token.status_code == 200, token.text
    claims = (await validator(http)).validate(token.json()["access_token"]).claims
    assert claims["uscc"] == uscc
    assert claims["sub"] == "employer:" + uscc


async def test_each_employer_gets_its_own_uscc(http: httpx.AsyncClient, organizations: list[tuple[str, str]]) -> None:
    check = await validator(http)
    for org_uscc, _ in organizations[:3]:
        code, verifier, _ = await authorization_code(http, org_uscc)
        token = (await exchange(http, code, verifier)).json()["access_token"]
        assert check.validate(token).claims["uscc"] == org_uscc


async def test_client_extra_claims_cannot_set_uscc(keys: SigningKeys) -> None:
    rogue = Client(
        client_id="rogue", audience="portal", scopes=frozenset(), secret="s", extra_claims={"uscc": "913100"}
    )
    with pytest.raises(ValueError, match="uscc"):
        BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=[rogue])


# -- the rest of the server ----------------------------------------------------------------------------------


async def test_client_credentials_still_work(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("procurement", "demo-secret-procurement")
    )
    assert response.status_code == 200, response.text
    principal = (await validator(http)).validate(response.json()["access_token"])
    assert principal.client_id == "procurement"
    assert "uscc" not in principal.claims
    # The employer client may not use client credentials, nor a client-credentials client the code grant.
    employer = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert_token_error(employer, "unauthorized_client")
    procurement = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "code_verifier": "y" * 43},
        auth=("procurement", "demo-secret-procurement"),
    )
    assert_token_error(procurement, "unauthorized_client")


async def test_metadata_with_employer_login(http: httpx.AsyncClient) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert set(metadata["grant_types_supported"]) == {"client_credentials", "authorization_code"}
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"objection:file", "repair:apply"} <= set(metadata["scopes_supported"])
    assert metadata["token_endpoint"] == ISSUER + "/oauth/token"


async def test_without_accounts_there_is_no_employer_login(keys: SigningKeys) -> None:
    server = BuiltinAuthorizationServer(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=[*demo_clients(), demo_employer_client()]
    )
    assert not server.employer_login_enabled
    app = Starlette(routes=server.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as http:
        _, challenge = pkce()
        page = await http.get("/oauth/authorize", params=authorize_params(challenge))
        assert_error_page(page, 404)
        assert_error_page(await http.post("/oauth/authorize", data={"username": "x"}), 404)
        token = await http.post(
            "/oauth/token", data={"grant_type": "authorization_code", "code": "x", "client_id": CLIENT_ID}
        )
        assert_token_error(token, "unsupported_grant_type")
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert "authorization_endpoint" not in metadata
    assert metadata["response_types_supported"] == []
    assert metadata["grant_types_supported"] == ["client_credentials"]
    with pytest.raises(ValueError):
        server.issue_employer_token("anyone")


def test_issue_employer_token(server: BuiltinAuthorizationServer, uscc: str) -> None:
    check = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=server.keys.public_jwks())
    principal = check.validate(server.issue_employer_token(uscc.lower()))
    assert principal.claims["uscc"] == uscc
    assert principal.subject == "employer:" + uscc
    assert principal.client_id == CLIENT_ID
    assert principal.scopes == EMPLOYER_SCOPES
    narrowed = check.validate(server.issue_employer_token(uscc, scopes=["subject:read"]))
    assert narrowed.scopes == {"subject:read"}
    with pytest.raises(KeyError):
        server.issue_employer_token("91310000000000000X")
    with pytest.raises(ValueError):
        server.issue_employer_token(uscc, scopes=["audit:read"])
    with pytest.raises(ValueError):
        server.issue_employer_token(uscc, client_id="procurement")


async def test_secrets_never_logged(http: httpx.AsyncClient, uscc: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        verifier, challenge = pkce()
        response = await sign_in(http, authorize_params(challenge), uscc)
        code = redirect_params(response)["code"]
        token = (await exchange(http, code, verifier)).json()["access_token"]
    for record in caplog.records:
        message = record.getMessage()
        for secret in (DEMO_EMPLOYER_PASSWORD, code, verifier, token.split(".")[2]):
            assert secret not in message


# -- accounts and clients ------------------------------------------------------------------------------------


def test_password_hashing() -> None:
    first = hash_password("s3cret")
    second = hash_password("s3cret")
    assert first != second  # salted
    assert first.startswith("scrypt$14$8$1$")
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("s3cret ", first)
    assert not verify_password("s3cret", "scrypt$14$8$1$bad")
    assert not verify_password("s3cret", "plain$s3cret")
    assert not verify_password("x" * 2000, first)


def test_demo_employer_accounts(organizations: list[tuple[str, str]], accounts: AccountStore) -> None:
    demo = demo_employer_accounts(organizations[:2])
    assert [account.username for account in demo] == [uscc for uscc, _ in organizations[:2]]
    assert [account.uscc for account in demo] == [uscc for uscc, _ in organizations[:2]]
    assert [account.display_name for account in demo] == [name for _, name in organizations[:2]]
    assert demo[0].password_hash != demo[1].password_hash
    assert demo[0].password_hash not in repr(demo[0])
    assert len(accounts) == len(organizations)
    found = accounts.authenticate(organizations[0][0], DEMO_EMPLOYER_PASSWORD)
    assert isinstance(found, EmployerAccount) and found.uscc == organizations[0][0]
    assert accounts.authenticate(organizations[0][0], "demo-employer ") is None
    assert accounts.authenticate("nobody", DEMO_EMPLOYER_PASSWORD) is None
    assert accounts.authenticate("x" * 10_000, "y" * 10_000) is None
    with pytest.raises(ValueError, match="twice"):
        AccountStore([*demo, *demo])
    with pytest.raises(ValueError):
        EmployerAccount(username="lower", password_hash=hash_password("x"), uscc="U", display_name="n")
    with pytest.raises(ValueError):
        EmployerAccount(username="U", password_hash="nonsense", uscc="U", display_name="n")


def test_employer_client() -> None:
    client = demo_employer_client()
    assert client.client_id == CLIENT_ID
    assert client.audience == "employer"
    assert client.grant_types == {"authorization_code"}
    assert client.redirect_uris == (REDIRECT, OTHER_REDIRECT)
    assert client.public
    assert client.secret == CLIENT_SECRET and CLIENT_SECRET not in repr(client)
    assert client.scopes == EMPLOYER_SCOPES
    assert {"objection:file", "repair:apply"} <= ALL_SCOPES
    assert EMPLOYER_SCOPES <= ALL_SCOPES
    assert {sector.scope for sector in Sector} <= EMPLOYER_SCOPES
    assert not {"subject:pii", "record:write", "audit:read", "objection:decide", "repair:decide"} & EMPLOYER_SCOPES
    assert demo_employer_client("x-", ["https://a.example/cb"]).secret == "x-" + CLIENT_ID


@pytest.mark.skipif(not POLICY_MD.exists(), reason="the shared contract is not checked out next to the repo")
def test_employer_client_matches_policy_md() -> None:
    row = next(line for line in POLICY_MD.read_text(encoding="utf-8").splitlines() if line.startswith("| `employer`"))
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    assert "authorization code + PKCE" in cells[1]
    listed = {item.strip() for item in cells[2].split(",")}
    fixed = {item for item in listed if re.fullmatch(r"[a-z]+:[a-z_]+", item)}
    assert "every restriction scope" in listed
    assert any("filing its own objections and repairs" in item for item in listed)
    expected = fixed | {sector.scope for sector in Sector} | {"objection:file", "repair:apply"}
    assert demo_employer_client().scopes == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"redirect_uris": ("http://evil.example/cb",)}, "https"),
        ({"redirect_uris": ("https://a.example/cb#x",)}, "fragment"),
        ({"redirect_uris": ("https://user@a.example/cb",)}, "user information"),
        ({"redirect_uris": ("https://a.example/ cb",)}, "characters"),
        ({"redirect_uris": ("javascript:alert(1)",)}, "http"),
        ({"redirect_uris": ("https://a.example/cb", "https://a.example/cb")}, "twice"),
        ({"public": True, "grant_types": frozenset({"client_credentials"})}, "client credentials"),
        ({"secret": ""}, "secret"),
    ],
)
def test_client_validation(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "client_id": "c",
        "audience": "employer",
        "scopes": frozenset({"subject:read"}),
        "secret": "s",
        "grant_types": frozenset({"authorization_code"}),
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        Client(**arguments)


def test_public_client_without_secret() -> None:
    client = Client(
        client_id="spa",
        audience="employer",
        scopes=frozenset({"subject:read"}),
        secret="",
        grant_types=frozenset({"authorization_code"}),
        redirect_uris=["http://[::1]:5173/cb", "https://spa.example/cb"],  # type: ignore[arg-type]
        public=True,
    )
    assert client.redirect_uris == ("http://[::1]:5173/cb", "https://spa.example/cb")
