"""Brute-force protection of the built-in authorization server: failed client secrets and employer passwords
are counted in PostgreSQL per client id, per user name and per address, and a key over its limit is refused
with 429 and ``Retry-After`` until its window ends, even with the right secret."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.settings import DEMO_CLIENT_SECRET_PREFIX, Settings
from auth.accounts import DEMO_EMPLOYER_PASSWORD
from store.demo import named_subjects
from tests.conftest import Api, running_app

TOKEN_FORM = {"grant_type": "client_credentials"}
REDIRECT = "http://127.0.0.1:8000/oauth/callback"


@pytest.fixture
def uscc() -> str:
    return next(subject.uscc for subject in named_subjects() if subject.uscc)


async def _token(api: Api, client_id: str, secret: str) -> httpx.Response:
    return await api.client.post("/oauth/token", data=TOKEN_FORM, auth=(client_id, secret))


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= 300
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == "too_many_requests"
    assert "access_token" not in body


async def test_wrong_client_secrets_block_the_client_id(api: Api) -> None:
    for _ in range(10):
        assert (await _token(api, "procurement", "wrong")).status_code == 401
    _assert_throttled(await _token(api, "procurement", "wrong"))
    # A throttle that let the right secret through would still let a guesser confirm a hit.
    _assert_throttled(await _token(api, "procurement", DEMO_CLIENT_SECRET_PREFIX + "procurement"))
    post = await api.client.post(
        "/oauth/token",
        data={**TOKEN_FORM, "client_id": "procurement", "client_secret": DEMO_CLIENT_SECRET_PREFIX + "procurement"},
    )
    _assert_throttled(post)
    # Another client, from the same address, is unaffected.
    assert (await _token(api, "admin", DEMO_CLIENT_SECRET_PREFIX + "admin")).status_code == 200


async def test_a_success_resets_the_client_count(api: Api) -> None:
    for _ in range(9):
        assert (await _token(api, "procurement", "wrong")).status_code == 401
    assert (await _token(api, "procurement", DEMO_CLIENT_SECRET_PREFIX + "procurement")).status_code == 200
    for _ in range(9):
        assert (await _token(api, "procurement", "wrong")).status_code == 401
    assert (await _token(api, "procurement", DEMO_CLIENT_SECRET_PREFIX + "procurement")).status_code == 200


async def test_unknown_client_ids_are_throttled_like_known_ones(api: Api) -> None:
    # Otherwise the first 429 would tell which client ids exist.
    for _ in range(10):
        assert (await _token(api, "nobody", "wrong")).status_code == 401
    _assert_throttled(await _token(api, "nobody", "wrong"))


async def test_wrong_secrets_from_one_address_block_the_address(settings: Settings, database_url: str) -> None:
    strict = settings.model_copy(update={"auth_failure_address_limit": 5})
    async with running_app(strict, database_url) as api:
        for n in range(5):
            assert (await _token(api, f"guess-{n}", "wrong")).status_code == 401
        _assert_throttled(await _token(api, "admin", DEMO_CLIENT_SECRET_PREFIX + "admin"))


async def test_the_block_is_shared_by_every_api_process(settings: Settings, database_url: str) -> None:
    async with running_app(settings, database_url) as first, running_app(settings, database_url) as second:
        for n in range(10):
            api = first if n % 2 else second
            assert (await _token(api, "procurement", "wrong")).status_code == 401
        _assert_throttled(await _token(first, "procurement", DEMO_CLIENT_SECRET_PREFIX + "procurement"))
        _assert_throttled(await _token(second, "procurement", DEMO_CLIENT_SECRET_PREFIX + "procurement"))


# -- the employer sign-in form -----------------------------------------------------------------------------

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def _authorize_params() -> dict[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {
        "response_type": "code",
        "client_id": "employer-portal",
        "redirect_uri": REDIRECT,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def _sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get("/oauth/authorize", params=_authorize_params())
    assert page.status_code == 200, page.text
    fields = {html.unescape(n): html.unescape(v) for n, v in _HIDDEN.findall(page.text)}
    return await client.post("/oauth/authorize", data={**fields, "username": username, "password": password})


@pytest.fixture
async def browser(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    yield api.client


async def test_wrong_employer_passwords_block_the_user_name(browser: httpx.AsyncClient, uscc: str) -> None:
    for _ in range(10):
        response = await _sign_in(browser, uscc, "wrong-password")
        assert response.status_code == 200
        assert "The USCC or the password is incorrect." in response.text
    # The lower-case spelling is the same account, and the same counter.
    refused = await _sign_in(browser, uscc.lower(), DEMO_EMPLOYER_PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 300
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert "location" not in refused.headers
    assert "Too many failed sign-in attempts" in refused.text
    assert "code=" not in refused.text


async def test_a_successful_sign_in_resets_the_user_count(browser: httpx.AsyncClient, uscc: str) -> None:
    for _ in range(9):
        assert (await _sign_in(browser, uscc, "wrong-password")).status_code == 200
    signed_in = await _sign_in(browser, uscc, DEMO_EMPLOYER_PASSWORD)
    assert signed_in.status_code == 302
    assert "code" in parse_qs(urlsplit(signed_in.headers["location"]).query)
    for _ in range(9):
        assert (await _sign_in(browser, uscc, "wrong-password")).status_code == 200
    assert (await _sign_in(browser, uscc, DEMO_EMPLOYER_PASSWORD)).status_code == 302
