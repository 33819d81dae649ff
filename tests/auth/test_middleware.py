"""BearerAuthMiddleware: RFC 6750 challenges, the principal in the scope, and no 500 for any header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from auth.clients import demo_clients
from auth.keys import SigningKeys
from auth.middleware import BearerAuthMiddleware
from auth.server import BuiltinAuthorizationServer
from auth.tokens import Principal, TokenValidator

ISSUER = "https://auth.hrss.example"
AUDIENCE = "hrss-credit"
CHALLENGE = 'Bearer realm="hrss-credit"'


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture(scope="module")
def server(keys: SigningKeys) -> BuiltinAuthorizationServer:
    return BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=demo_clients())


@pytest.fixture(scope="module")
def validator(keys: SigningKeys) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=keys.public_jwks())


async def whoami(request: Request) -> Response:
    principal = request.scope["principal"]
    assert isinstance(principal, Principal)
    return JSONResponse(
        {
            "client_id": principal.client_id,
            "state_client_id": request.state.principal.client_id,
            "scopes": sorted(principal.scopes),
        }
    )


async def health(request: Request) -> Response:
    return PlainTextResponse("principal" if "principal" in request.scope else "anonymous")


def requires_token(scope: Scope) -> bool:
    return bool(scope["path"] != "/health")


@pytest.fixture
async def http(validator: TokenValidator) -> AsyncIterator[httpx.AsyncClient]:
    inner = Starlette(routes=[Route("/graphql", whoami, methods=["GET", "POST"]), Route("/health", health)])
    app = BearerAuthMiddleware(inner, validator=validator, requires_token=requires_token)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://api.test") as client:
        yield client


def assert_graphql_401(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"errors"}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert isinstance(error["message"], str) and error["message"]
    return body


async def test_missing_header(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "{ __typename }"})
    assert_graphql_401(response)
    # RFC 6750 §3.1: no error code when the request carried no credentials.
    assert response.headers["www-authenticate"] == CHALLENGE


@pytest.mark.parametrize("authorization", ["Basic xxx", "Basic cHJvY3VyZW1lbnQ6eA==", "Digest a=b", "Token abc"])
async def test_other_scheme(http: httpx.AsyncClient, authorization: str) -> None:
    response = await http.get("/graphql", headers={"Authorization": authorization})
    assert_graphql_401(response)
    assert response.headers["www-authenticate"] == CHALLENGE


async def test_bad_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Authorization": "Bearer abc"})
    assert_graphql_401(response)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(CHALLENGE + ", ")
    assert 'error="invalid_token"' in challenge
    assert 'error_description="' in challenge
    assert "abc" not in challenge


async def test_token_from_another_issuer_key(http: httpx.AsyncClient) -> None:
    impostor = BuiltinAuthorizationServer(
        issuer=ISSUER, audience=AUDIENCE, keys=SigningKeys.generate(), clients=demo_clients()
    )
    token = impostor.issue_token("admin")
    response = await http.get("/graphql", headers={"Authorization": f"Bearer {token}"})
    assert_graphql_401(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert token not in response.text


async def test_valid_token(http: httpx.AsyncClient, server: BuiltinAuthorizationServer) -> None:
    token = server.issue_token("procurement")
    response = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["client_id"] == "procurement"
    assert body["state_client_id"] == "procurement"
    assert "restriction:bidding" in body["scopes"]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
async def test_scheme_is_case_insensitive(
    http: httpx.AsyncClient, server: BuiltinAuthorizationServer, scheme: str
) -> None:
    token = server.issue_token("portal")
    response = await http.get("/graphql", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200
    assert response.json()["client_id"] == "portal"


async def test_path_without_token_requirement(http: httpx.AsyncClient, server: BuiltinAuthorizationServer) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.text == "anonymous"
    # Not required, so not even looked at: a bad token on a public path does not fail the request.
    response = await http.get("/health", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 200


async def test_two_authorization_headers(http: httpx.AsyncClient, server: BuiltinAuthorizationServer) -> None:
    token = server.issue_token("portal")
    response = await http.get(
        "/graphql", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    )
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"Bearer",
        b"Bearer ",
        b"Bearer    ",
        b"Bearer a b c",
        b"Bearer a.b.c",
        b"Bearer \xff\xfe\xfd",
        b"Bearer \xc3\xa9t\xc3\xa9.\xc3\xa9.\xc3\xa9",
        b'Bearer "quoted"',
        b"Bearer " + b"A" * 20_000,
        b"Bearer " + b"eyJ" * 3000,
        b"Bearer ==.==.==",
        b"\xff\xfe",
        b"   ",
    ],
)
async def test_any_header_content_is_a_401_never_a_500(http: httpx.AsyncClient, value: bytes) -> None:
    response = await http.get("/graphql", headers={b"Authorization": value})
    assert_graphql_401(response)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(CHALLENGE)
    assert challenge.isascii()


async def test_non_http_scopes_pass_through(validator: TokenValidator) -> None:
    seen: list[str] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        assert "principal" not in scope

    app = BearerAuthMiddleware(inner, validator=validator, requires_token=lambda scope: True)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError(f"the middleware must not answer a {message['type']} itself")

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    await app({"type": "websocket", "path": "/graphql", "headers": []}, receive, send)
    assert seen == ["lifespan", "websocket"]


async def test_principal_is_set_in_raw_scope(validator: TokenValidator, server: BuiltinAuthorizationServer) -> None:
    captured: dict[str, Any] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        captured.update(scope)
        await PlainTextResponse("ok")(scope, receive, send)

    app = BearerAuthMiddleware(inner, validator=validator, requires_token=lambda scope: True)
    token = server.issue_token("auditor")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://api.test") as client:
        response = await client.get("/anything", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert captured["principal"].client_id == "auditor"
    assert captured["principal"].scopes == {"audit:read"}
    assert captured["state"]["principal"] is captured["principal"]
