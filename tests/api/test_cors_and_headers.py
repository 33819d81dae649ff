"""Browser access and response headers: CORS for the registered SPA origins (preflights need no token), no
caching of credit data or tokens, no MIME sniffing, and no weak PII key in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.app import cors_origins
from api.settings import Settings
from tests.conftest import Api

SPA = "http://localhost:5173"


@pytest.mark.parametrize("path", ["/graphql", "/oauth/token", "/.well-known/jwks.json"])
async def test_a_preflight_from_the_registered_spa_needs_no_token(api: Api, path: str) -> None:
    response = await api.client.options(
        path,
        headers={
            "Origin": SPA,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-purpose, x-request-id",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-purpose", "x-request-id"} <= {h.strip() for h in allowed.split(",")}


async def test_the_spa_reads_the_answer_and_its_request_id(api: Api) -> None:
    token = await api.token("portal")
    response = await api.client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {token}", "Origin": SPA},
    )
    assert response.headers["access-control-allow-origin"] == SPA
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_an_unlisted_origin_gets_no_cors_grant(api: Api) -> None:
    response = await api.client.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_production_allows_no_origin_until_configured(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production", "demo_clients": False})
    assert cors_origins(production) == []
    assert SPA in cors_origins(settings)
    configured = production.model_copy(update={"cors_origins": ["https://portal.example.gov.cn"]})
    assert cors_origins(configured) == ["https://portal.example.gov.cn"]


def test_a_wildcard_origin_is_refused() -> None:
    with pytest.raises(ValidationError, match="HRSS_CORS_ORIGINS"):
        Settings(cors_origins=["*"])


async def test_credit_data_and_tokens_are_never_cached_or_sniffed(api: Api) -> None:
    token = await api.token("portal")
    graphql = await api.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert graphql.headers["cache-control"] == "no-store"
    assert graphql.headers["x-content-type-options"] == "nosniff"
    issued = await api.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("portal", "demo-secret-portal")
    )
    assert "no-store" in issued.headers["cache-control"]
    assert (await api.client.get("/healthz")).headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "key",
    ["short-key-123", "a" * 64, "ab" * 32, "0123456789" * 4],
    ids=["short", "one-character", "two-characters", "repeated-digits"],
)
def test_production_refuses_a_weak_pii_key(key: str) -> None:
    with pytest.raises(ValidationError, match="HRSS_PII_KEY is weak"):
        Settings(env="production", demo_clients=False, database_url="postgresql://db/x", pii_key=key)  # type: ignore[arg-type]


def test_production_accepts_a_random_pii_key() -> None:
    key = "Zq8vR2mK9wL4pN7xT1bH6cJ3yF5gD0sA"
    settings = Settings(env="production", demo_clients=False, database_url="postgresql://db/x", pii_key=key)  # type: ignore[arg-type]
    assert settings.pii_key.get_secret_value() == key
