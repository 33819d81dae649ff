"""The portal's server side without a browser: its public client signs an employer in with PKCE and no secret,
its pages carry a strict policy, and the demo client's redirect URI has a page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from api.portal import portal_clients
from auth.accounts import DEMO_EMPLOYER_PASSWORD
from tests.auth.test_authorization_code import hidden_fields, pkce
from tests.conftest import Api

CALLBACK = "http://127.0.0.1:8000/portal/callback"
USCC = "91310117MA12QF388C"


async def _code(api: Api, challenge: str, redirect_uri: str = CALLBACK) -> str:
    params = {
        "response_type": "code",
        "client_id": "hrss-portal",
        "redirect_uri": redirect_uri,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    form = await api.client.get("/oauth/authorize", params=params)
    assert form.status_code == 200, form.text
    signed_in = await api.client.post(
        "/oauth/authorize", data={**hidden_fields(form.text), "username": USCC, "password": DEMO_EMPLOYER_PASSWORD}
    )
    assert signed_in.status_code == 302, signed_in.text
    location = urlsplit(signed_in.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


async def test_the_portal_client_signs_an_employer_in_with_pkce_and_no_secret(demo_api: Api) -> None:
    verifier, challenge = pkce()
    code = await _code(demo_api, challenge)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": "hrss-portal",
        "code_verifier": verifier,
    }
    token = await demo_api.client.post("/oauth/token", data=exchange)
    assert token.status_code == 200, token.text
    me = await demo_api.gql("{ me { uscc } }", token=token.json()["access_token"])
    assert me == {"data": {"me": {"uscc": USCC}}}
    # The code is single-use.
    again = await demo_api.client.post("/oauth/token", data=exchange)
    assert again.json()["error"] == "invalid_grant"


async def test_a_secret_or_a_wrong_verifier_does_not_get_the_portal_a_token(demo_api: Api) -> None:
    verifier, challenge = pkce()
    code = await _code(demo_api, challenge)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": "hrss-portal"}
    with_secret = await demo_api.client.post(
        "/oauth/token", data={**form, "client_secret": "guess", "code_verifier": verifier}
    )
    assert with_secret.status_code == 401 and with_secret.json()["error"] == "invalid_client"
    wrong = await demo_api.client.post("/oauth/token", data={**form, "code_verifier": pkce()[0]})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


async def test_only_the_portal_callback_on_the_issuer_is_a_redirect_uri(api: Api) -> None:
    _, challenge = pkce()
    for uri in (CALLBACK + "/", "http://127.0.0.1:8000/portal/", "http://localhost:8000/portal/callback"):
        page = await api.client.get(
            "/oauth/authorize",
            params={"response_type": "code", "client_id": "hrss-portal", "redirect_uri": uri, "state": "s",
                    "code_challenge": challenge, "code_challenge_method": "S256"},
        )  # fmt: skip
        assert page.status_code == 400 and "location" not in page.headers, uri


def test_the_portal_client_is_registered_for_an_https_issuer_and_refused_for_plain_http() -> None:
    (client,) = portal_clients("https://credit.hrss.example.gov.cn/")
    assert client.public and not client.secret
    assert client.redirect_uris == ("https://credit.hrss.example.gov.cn/portal/callback",)
    assert client.grant_types == {"authorization_code"}
    assert portal_clients("http://credit.hrss.example.gov.cn") == ()


async def test_the_portal_pages_are_served_under_a_strict_policy(api: Api) -> None:
    moved = await api.client.get("/portal")
    assert moved.status_code == 308 and moved.headers["location"] == "/portal/"
    for path in ("/portal/", "/portal/callback?code=c&state=s", "/oauth/callback?code=c&state=s"):
        page = await api.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8", path
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
    demo_callback = await api.client.get("/oauth/callback")
    assert 'href="../portal/"' in demo_callback.text
    script = await api.client.get("/portal/static/portal.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    # The token is never written to storage that outlives the tab or that other pages of the origin share.
    assert "localStorage" not in script.text
