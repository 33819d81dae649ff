"""The built-in authorization server over HTTP: RFC 6749 client credentials, RFC 8414, RFC 9068 tokens.

A real Starlette app with ``server.routes()``, driven through httpx's ASGI transport.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import stat
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jws
from starlette.applications import Starlette

from auth.clients import ALL_SCOPES, Client, demo_clients
from auth.keys import SigningKeys
from auth.server import BuiltinAuthorizationServer
from auth.throttle import ThrottleKey, address_key, client_key
from auth.tokens import TokenValidator
from domain.taxonomy import Sector

ISSUER = "https://testserver"
AUDIENCE = "hrss-credit"
TTL = 900
POLICY_MD = Path(__file__).resolve().parents[3] / "shared" / "contract" / "policy.md"

PROCUREMENT = frozenset({"subject:read", "grade:read", "restriction:government_procurement", "restriction:bidding"})
EXPECTED_SCOPES: dict[str, frozenset[str]] = {
    "procurement": PROCUREMENT,
    "finance": frozenset({"subject:read", "restriction:financing_loans", "restriction:startup_guarantee_loans"}),
    "employment": frozenset(
        {"subject:read", "restriction:startup_guarantee_loans", "restriction:youth_internship_bases"}
    ),
    "inspection": frozenset(
        {
            "subject:read",
            "record:read",
            "grade:read",
            "grade:explain",
            "supervision:read",
            "objection:read",
            "repair:read",
        }
    ),
    "portal": frozenset({"subject:read", "record:read", "grade:read"}),
    "source-unit": frozenset({"subject:read", "record:read", "record:write"}),
    "admin": ALL_SCOPES,
    "auditor": frozenset({"audit:read"}),
}


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture(scope="module")
def server(keys: SigningKeys) -> BuiltinAuthorizationServer:
    return BuiltinAuthorizationServer(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=demo_clients(), token_ttl_seconds=TTL
    )


@pytest.fixture
async def http(server: BuiltinAuthorizationServer) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=server.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        yield client


def secret(client_id: str) -> str:
    return "demo-secret-" + client_id


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    raw = f"{client_id}:{client_secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


async def validator_from_jwks_uri(http: httpx.AsyncClient) -> TokenValidator:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    jwks = (await http.get(metadata["jwks_uri"])).json()
    return TokenValidator(issuer=metadata["issuer"], audience=AUDIENCE, jwks=jwks)


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("application/json")


# -- successful token requests -----------------------------------------------------------------------------


async def test_client_secret_basic(http: httpx.AsyncClient, keys: SigningKeys) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("procurement", secret("procurement")),
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == TTL
    assert set(body["scope"].split()) == PROCUREMENT
    assert "refresh_token" not in body

    header = jws.extract_compact(body["access_token"].encode("ascii")).headers()
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": keys.kid}
    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert header["kid"] == jwks["keys"][0]["kid"]

    principal = (await validator_from_jwks_uri(http)).validate(body["access_token"])
    assert principal.client_id == "procurement"
    assert principal.subject == "procurement"
    assert principal.scopes == PROCUREMENT
    claims = principal.claims
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == TTL
    assert claims["jti"]


async def test_client_secret_post(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "finance", "client_secret": secret("finance")},
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == TTL
    assert set(body["scope"].split()) == EXPECTED_SCOPES["finance"]
    principal = (await validator_from_jwks_uri(http)).validate(body["access_token"])
    assert principal.client_id == "finance"


async def test_every_demo_client_gets_its_policy_scopes(http: httpx.AsyncClient) -> None:
    validator = await validator_from_jwks_uri(http)
    for client_id, scopes in EXPECTED_SCOPES.items():
        response = await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret(client_id))
        )
        assert response.status_code == 200, (client_id, response.text)
        assert validator.validate(response.json()["access_token"]).scopes == scopes


async def test_source_unit_token_carries_extra_claim(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("source-unit", secret("source-unit"))
    )
    principal = (await validator_from_jwks_uri(http)).validate(response.json()["access_token"])
    assert principal.claims["source_unit"] == "上海市人力资源和社会保障局执法总队"


# -- scopes ------------------------------------------------------------------------------------------------


async def test_scope_narrowing(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "restriction:bidding  subject:read"},
        auth=("procurement", secret("procurement")),
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["scope"].split()) == {"restriction:bidding", "subject:read"}
    principal = (await validator_from_jwks_uri(http)).validate(response.json()["access_token"])
    assert principal.scopes == {"restriction:bidding", "subject:read"}


@pytest.mark.parametrize(
    "scope",
    [
        "subject:pii",  # a real scope the client does not hold
        "subject:read subject:pii",  # partly held: the whole request fails, nothing is silently dropped
        "everything",  # not a scope at all
        "restriction:travel",
    ],
)
async def test_invalid_scope(http: httpx.AsyncClient, scope: str) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=("procurement", secret("procurement")),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "access_token" not in response.json()
    assert_no_store(response)


# -- failures ----------------------------------------------------------------------------------------------


async def test_wrong_secret(http: httpx.AsyncClient) -> None:
    basic_response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("procurement", "wrong")
    )
    assert basic_response.status_code == 401
    assert basic_response.json()["error"] == "invalid_client"
    assert "www-authenticate" in basic_response.headers
    assert_no_store(basic_response)

    post_response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "procurement", "client_secret": "wrong"},
    )
    assert post_response.status_code == 401
    assert post_response.json()["error"] == "invalid_client"


async def test_unknown_client_looks_like_wrong_secret(http: httpx.AsyncClient) -> None:
    wrong_secret = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("procurement", "wrong")
    )
    for response in (
        await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x")),
        await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        ),
    ):
        assert response.status_code == 401
        assert response.json() == wrong_secret.json()


async def test_no_client_credentials(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    response = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "procurement"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Bearer abc",
        "Basic " + "A" * 5000,
    ],
)
async def test_malformed_basic_header(http: httpx.AsyncClient, authorization: str) -> None:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["authorization_code", "password", "refresh_token", "implicit", 'x"y'])
async def test_unsupported_grant_type(http: httpx.AsyncClient, grant_type: str) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": grant_type, "code": "abc", "username": "u", "password": "p"},
        auth=("procurement", secret("procurement")),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert_no_store(response)


async def test_missing_grant_type(http: httpx.AsyncClient) -> None:
    response = await http.post("/oauth/token", data={}, auth=("procurement", secret("procurement")))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_repeated_parameter(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&scope=subject:read&scope=subject:pii",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic("admin", secret("admin"))},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_two_authentication_methods(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "finance", "client_secret": secret("finance")},
        auth=("finance", secret("finance")),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps({"grant_type": "client_credentials"}).encode(), "application/json"),
        (b"grant_type=client_credentials", "text/plain"),
        (b"grant_type=client_credentials", ""),
        (b"grant_type=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"a=" + b"b" * 20_000, "application/x-www-form-urlencoded"),
        (b"&".join(b"p%d=1" % i for i in range(100)), "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_body(http: httpx.AsyncClient, content: bytes, content_type: str) -> None:
    response = await http.post(
        "/oauth/token",
        content=content,
        headers={"Content-Type": content_type, **basic("procurement", secret("procurement"))},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert_no_store(response)


async def test_token_endpoint_is_post_only(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/oauth/token",
        params={"grant_type": "client_credentials"},
        auth=("procurement", secret("procurement")),
    )
    assert response.status_code == 405


async def test_plain_http_to_a_remote_host_is_refused(
    server: BuiltinAuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 6749 §3.2: TLS is required; Authlib allows plain http only for loopback hosts."""
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    app = Starlette(routes=server.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://credit.example") as client:
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("portal", secret("portal"))
        )
    assert response.status_code == 400
    assert response.json()["error"] == "insecure_transport"
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("portal", secret("portal"))
        )
    assert response.status_code == 200


# -- discovery ---------------------------------------------------------------------------------------------


async def test_metadata(http: httpx.AsyncClient, keys: SigningKeys) -> None:
    response = await http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == ISSUER + "/oauth/token"
    assert metadata["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert set(metadata["scopes_supported"]) == ALL_SCOPES
    assert metadata["response_types_supported"] == []

    jwks_response = await http.get(metadata["jwks_uri"])
    assert jwks_response.status_code == 200
    jwks = jwks_response.json()
    assert jwks == keys.public_jwks()
    (jwk,) = jwks["keys"]
    assert jwk["kid"] == keys.kid
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert "d" not in jwk  # never the private half

    token_response = await http.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=("auditor", secret("auditor")),
    )
    assert token_response.status_code == 200


# -- keys --------------------------------------------------------------------------------------------------


def test_keys_persisted(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "signing-key.json"
    first = SigningKeys.load_or_create(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = SigningKeys.load_or_create(path)
    assert second.kid == first.kid
    assert second.public_jwks() == first.public_jwks()
    assert first.alg == second.alg == "ES256"
    stored = json.loads(path.read_text())
    assert stored["kty"] == "EC" and stored["crv"] == "P-256" and "d" in stored
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind

    # A token issued before a "restart" validates with the key loaded after it.
    before = BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=first, clients=demo_clients())
    token = before.issue_token("portal")
    validator = TokenValidator(issuer=ISSUER, audience=AUDIENCE, jwks=second.public_jwks())
    assert validator.validate(token).client_id == "portal"


def test_kid_is_rfc7638_thumbprint(keys: SigningKeys) -> None:
    import hashlib

    jwk = keys.public_jwks()["keys"][0]
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    assert keys.kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    assert SigningKeys.generate().kid != keys.kid


def test_loose_key_file_mode_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    kid = SigningKeys.load_or_create(path).kid
    path.chmod(0o644)
    assert SigningKeys.load_or_create(path).kid == kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"kty": "oct", "k": "c2VjcmV0"}'])
def test_unusable_key_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ValueError):
        SigningKeys.load_or_create(path)


def test_public_key_file_is_refused(tmp_path: Path, keys: SigningKeys) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(keys.public_jwks()["keys"][0]))
    path.chmod(0o600)
    with pytest.raises(ValueError):
        SigningKeys.load_or_create(path)


# -- clients -----------------------------------------------------------------------------------------------


def test_all_scopes() -> None:
    fixed = {
        "subject:read",
        "subject:pii",
        "record:read",
        "record:details",
        "record:write",
        "grade:read",
        "grade:explain",
        "supervision:read",
        "objection:read",
        "objection:decide",
        "repair:read",
        "repair:decide",
        "audit:read",
        # The employer files its own objections and repairs (policy.md, the employer row).
        "objection:file",
        "repair:apply",
    }
    sectors = {sector.scope for sector in Sector}
    assert len(sectors) == 11
    assert "restriction:government_procurement" in sectors
    assert fixed | sectors == ALL_SCOPES


def test_demo_clients_match_policy() -> None:
    clients = {client.client_id: client for client in demo_clients()}
    assert set(clients) == set(EXPECTED_SCOPES)
    assert "employer" not in clients  # authorization code + PKCE, not a client-credentials client
    for client_id, client in clients.items():
        assert client.audience == client_id
        assert client.scopes == EXPECTED_SCOPES[client_id], client_id
        assert client.secret == "demo-secret-" + client_id
        assert client.grant_types == {"client_credentials"}
        assert client.secret not in repr(client)
    assert clients["admin"].scopes == ALL_SCOPES
    assert clients["procurement"].scopes == {
        "subject:read",
        "grade:read",
        "restriction:government_procurement",
        "restriction:bidding",
    }
    assert dict(clients["source-unit"].extra_claims) == {"source_unit": "上海市人力资源和社会保障局执法总队"}
    assert all(not client.extra_claims for cid, client in clients.items() if cid != "source-unit")
    assert {c.secret for c in demo_clients("other-")} == {"other-" + cid for cid in EXPECTED_SCOPES}


def _policy_table(text: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    section = text.split("## Audiences", 1)[1]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.match(r"`([a-z-]+)`", cells[0]) if cells and cells[0] else None
        if match and len(cells) >= 3 and cells[1] == "client credentials":
            rows[match.group(1)] = cells[2]
    return rows


@pytest.mark.skipif(not POLICY_MD.exists(), reason="the shared contract is not checked out next to the repo")
def test_demo_clients_match_policy_md() -> None:
    rows = _policy_table(POLICY_MD.read_text(encoding="utf-8"))
    clients = {client.client_id: client for client in demo_clients()}
    assert set(rows) == set(clients)
    for audience, cell in rows.items():
        if cell == "every scope":
            assert clients[audience].scopes == ALL_SCOPES
        else:
            assert clients[audience].scopes == {scope.strip() for scope in cell.split(",")}, audience


def test_reserved_extra_claims_refused(keys: SigningKeys) -> None:
    rogue = Client(
        client_id="rogue",
        audience="portal",
        scopes=frozenset(),
        secret="s",
        extra_claims={"aud": "elsewhere"},
    )
    with pytest.raises(ValueError, match="aud"):
        BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=[rogue])


def test_duplicate_client_refused(keys: SigningKeys) -> None:
    clients = [*demo_clients(), *demo_clients()]
    with pytest.raises(ValueError, match="twice"):
        BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=clients)


async def test_client_without_client_credentials_grant(keys: SigningKeys) -> None:
    later = Client(
        client_id="employer",
        audience="employer",
        scopes=frozenset({"subject:read"}),
        secret="employer-secret",
        grant_types=frozenset({"authorization_code"}),
    )
    server = BuiltinAuthorizationServer(issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=[later])
    with pytest.raises(ValueError):
        server.issue_token("employer")
    app = Starlette(routes=server.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client:
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("employer", "employer-secret")
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_tokens_and_secrets_never_logged(http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("inspection", secret("inspection")),
        )
    assert response.status_code == 200
    token = response.json()["access_token"]
    for record in caplog.records:
        message = record.getMessage()
        assert token not in message
        assert token.split(".")[2] not in message
        assert secret("inspection") not in message


# -- the brute-force throttle (its PostgreSQL store is tested in tests/api/test_auth_throttle.py) ------------


class _MemoryThrottle:
    """A FailureThrottle in memory: every key blocks for ``window`` seconds at its ``limit``-th failure."""

    def __init__(self, limit: int = 3, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.failures: dict[ThrottleKey, list[float]] = {}
        self.reset: list[ThrottleKey] = []

    async def retry_after(self, keys: Sequence[ThrottleKey], *, now: float) -> float | None:
        ends = [times[0] + self.window for k in keys if len(times := self.failures.get(k, [])) >= self.limit]
        waits = [end - now for end in ends if end > now]
        return max(waits) if waits else None

    async def failed(self, keys: Sequence[ThrottleKey], *, now: float) -> None:
        for key in keys:
            self.failures.setdefault(key, []).append(now)

    async def succeeded(self, keys: Sequence[ThrottleKey]) -> None:
        for key in keys:
            self.failures.pop(key, None)
            self.reset.append(key)


class _BrokenThrottle(_MemoryThrottle):
    async def retry_after(self, keys: Sequence[ThrottleKey], *, now: float) -> float | None:
        raise ConnectionError("the database is down")


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttled_app(keys: SigningKeys, throttle: _MemoryThrottle, clock: _Clock) -> httpx.AsyncClient:
    server = BuiltinAuthorizationServer(
        issuer=ISSUER, audience=AUDIENCE, keys=keys, clients=demo_clients(), clock=clock, throttle=throttle
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=server.routes())), base_url=ISSUER)


async def test_a_block_ends_with_its_window(keys: SigningKeys) -> None:
    throttle, clock = _MemoryThrottle(limit=3, window=60), _Clock(1_700_000_000.0)
    form = {"grant_type": "client_credentials"}
    async with _throttled_app(keys, throttle, clock) as http:
        for _ in range(3):
            assert (await http.post("/oauth/token", data=form, auth=("procurement", "wrong"))).status_code == 401
        assert set(throttle.failures) == {client_key("procurement"), address_key("127.0.0.1")}
        clock.now += 59.5
        refused = await http.post("/oauth/token", data=form, auth=("procurement", secret("procurement")))
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"  # rounded up, never 0
        clock.now += 0.5
        allowed = await http.post("/oauth/token", data=form, auth=("procurement", secret("procurement")))
        assert allowed.status_code == 200
        # A success forgets the client's failures, not the address's.
        assert throttle.reset == [client_key("procurement")]


async def test_no_secret_no_client_key(keys: SigningKeys) -> None:
    throttle = _MemoryThrottle()
    async with _throttled_app(keys, throttle, _Clock(1_700_000_000.0)) as http:
        response = await http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "admin"})
        assert response.status_code == 401
    assert set(throttle.failures) == {address_key("127.0.0.1")}


async def test_unreachable_counts_refuse_rather_than_let_guessing_through(
    keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    async with _throttled_app(keys, _BrokenThrottle(), _Clock(1_700_000_000.0)) as http:
        response = await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("procurement", secret("procurement"))
        )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert_no_store(response)
    assert "throttle is unavailable" in caplog.text
