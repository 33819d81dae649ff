"""The HTTP surface: health, readiness, GraphiQL, bearer tokens, request ids, GET queries."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from api.settings import Settings
from auth.keys import SigningKeys
from tests.conftest import Api, _admin, running_app

QUERY = "{ catalogue { recordTypes } }"


async def test_healthz_answers_without_a_token(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_migrations_at_head(api: Api) -> None:
    from store.migrations import head_revision

    response = await api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == {"current": head_revision(), "head": head_revision()}


async def test_readyz_is_503_on_an_unmigrated_database(settings: Settings, server_url: str) -> None:
    from store.db import with_database

    await _admin(server_url, 'CREATE DATABASE "hrss_unmigrated"')
    try:
        async with running_app(settings, with_database(server_url, "hrss_unmigrated")) as a:
            response = await a.client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["migrations"]["current"] is None
    finally:
        await _admin(server_url, 'DROP DATABASE "hrss_unmigrated" WITH (FORCE)')


async def test_graphiql_page_is_served_in_dev_mode_without_a_token(api: Api) -> None:
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_missing_token_is_401_with_www_authenticate(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="hrss-credit"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _forge(
    keys: SigningKeys, *, iss: str = "http://127.0.0.1:8000", exp_delta: int = 300, kid: str | None = None
) -> str:
    now = int(time.time())
    claims = {
        "iss": iss,
        "aud": "hrss-credit",
        "iat": now,
        "exp": now + exp_delta,
        "client_id": "admin",
        "sub": "admin",
        "scope": "subject:read",
        "jti": "x",
    }
    header = {"alg": "ES256", "typ": "at+jwt", "kid": kid or keys.kid}
    return jwt.encode(header, claims, keys.private_key())


@pytest.mark.parametrize("case", ["malformed", "expired", "other_key", "wrong_issuer"])
async def test_bad_tokens_are_401_never_500(api: Api, case: str) -> None:
    own: SigningKeys = api.app.state.signing_keys
    tokens = {
        "malformed": "not.a.jwt",
        "expired": _forge(own, exp_delta=-3600),
        "other_key": _forge(SigningKeys.generate(), kid=own.kid),
        "wrong_issuer": _forge(own, iss="https://evil.example"),
    }
    token = tokens[case]
    assert (await api.post(QUERY, token=_forge(own))).status_code == 200  # the forged shape itself is valid
    response = await api.post(QUERY, token=token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_valid_token_from_the_token_endpoint_reads(api: Api) -> None:
    body = await api.gql(QUERY, as_client="procurement")
    assert "ADMINISTRATIVE_PENALTY" in body["data"]["catalogue"]["recordTypes"]


async def test_request_id_is_returned_and_propagated(api: Api) -> None:
    response = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    response = await api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert response.headers["x-request-id"] != "bad id with spaces"


async def test_queries_work_over_get(api: Api) -> None:
    token = await api.token("admin")
    response = await api.client.get("/graphql", params={"query": QUERY}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["data"]["catalogue"]["recordTypes"][0] == "WAGE_ARREARS_BLACKLIST"


async def test_oauth_metadata_and_jwks_are_published(api: Api) -> None:
    meta = (await api.client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == "http://127.0.0.1:8000"
    assert meta["token_endpoint"] == "http://127.0.0.1:8000/oauth/token"
    jwks = (await api.client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["kid"]
    assert "d" not in jwks["keys"][0]
    ECKey.import_key(jwks["keys"][0])
