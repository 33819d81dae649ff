"""The employer sign-in behind a round-robin load balancer: two real API processes on one database, each with a
data directory of its own, so that they share nothing but PostgreSQL (api/login_state.py)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.settings import Settings
from auth.accounts import DEMO_EMPLOYER_PASSWORD
from auth.keys import SigningKeys
from store import login_state
from store.db import create_engine
from store.demo import named_subjects
from store.tables import auth_secrets
from tests.api.test_subscriptions import api_process
from tests.conftest import cloned_database, running_app

CLIENT_ID = "employer-portal"
REDIRECT = "http://127.0.0.1:8000/oauth/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


class Clock:
    """A clock the test moves by hand (create_app's ``clock``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def employer() -> tuple[str, str]:
    subject = next(s for s in named_subjects() if s.uscc)
    assert subject.uscc is not None
    return subject.uscc, subject.name


@pytest.fixture(scope="module")
async def module_database(server_url: str, demo_template_db: str) -> AsyncIterator[str]:
    async with cloned_database(server_url, demo_template_db) as url:
        yield url


@pytest.fixture(scope="module")
def balanced(module_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with (
        api_process(module_database, tmp_path_factory.mktemp("a")) as a,
        api_process(module_database, tmp_path_factory.mktemp("b")) as b,
    ):
        yield a, b


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize_params(challenge: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def _open_form(browser: httpx.AsyncClient, base: str, params: dict[str, str]) -> dict[str, str]:
    page = await browser.get(base + "/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    fields = {html.unescape(n): html.unescape(v) for n, v in _HIDDEN.findall(page.text)}
    assert fields.get("csrf_token")
    return fields


async def _sign_in(browser: httpx.AsyncClient, form_at: str, post_at: str, uscc: str) -> tuple[str, str]:
    """The form shown by ``form_at`` and posted to ``post_at``; returns (code, verifier)."""
    verifier, challenge = _pkce()
    params = _authorize_params(challenge)
    fields = await _open_form(browser, form_at, params)
    response = await browser.post(
        post_at + "/oauth/authorize", data={**fields, "username": uscc, "password": DEMO_EMPLOYER_PASSWORD}
    )
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == [params["state"]]
    return query["code"][0], verifier


async def _exchange(browser: httpx.AsyncClient, base: str, code: str, verifier: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
    }
    return await browser.post(base + "/oauth/token", data=data)


async def _my_name(browser: httpx.AsyncClient, base: str, token: str) -> httpx.Response:
    return await browser.post(
        base + "/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": f"Bearer {token}"}
    )


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    # One cookie jar, as one browser has: the balancer's processes sit behind one host name.
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_an_employer_signs_in_through_two_processes_behind_a_balancer(
    balanced: tuple[str, str], browser: httpx.AsyncClient, employer: tuple[str, str]
) -> None:
    a, b = balanced
    uscc, name = employer
    code, verifier = await _sign_in(browser, a, b, uscc)
    exchanged = await _exchange(browser, a, code, verifier)
    assert exchanged.status_code == 200, exchanged.text
    me = await _my_name(browser, b, exchanged.json()["access_token"])
    assert me.status_code == 200, me.text
    assert me.json() == {"data": {"me": {"name": name}}}
    jwks_a = (await browser.get(a + "/.well-known/jwks.json")).json()
    assert jwks_a == (await browser.get(b + "/.well-known/jwks.json")).json()
    assert "d" not in jwks_a["keys"][0]  # the private half never leaves


async def test_a_code_exchanged_at_one_process_is_refused_at_the_other(
    balanced: tuple[str, str], browser: httpx.AsyncClient, employer: tuple[str, str]
) -> None:
    a, b = balanced
    code, verifier = await _sign_in(browser, b, a, employer[0])  # issued by a
    assert (await _exchange(browser, b, code, verifier)).status_code == 200
    again = await _exchange(browser, a, code, verifier)  # the process that issued it knows it is spent
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    assert "access_token" not in again.json()


@pytest.mark.parametrize("csrf_token", ["", None, "1700000000.forged"])
async def test_a_form_without_its_csrf_token_is_refused_at_either_process(
    balanced: tuple[str, str], browser: httpx.AsyncClient, employer: tuple[str, str], csrf_token: str | None
) -> None:
    a, b = balanced
    for form_at, post_at in ((a, b), (a, a)):
        fields = await _open_form(browser, form_at, _authorize_params(_pkce()[1]))
        fields.pop("csrf_token")
        if csrf_token is not None:
            fields["csrf_token"] = csrf_token
        response = await browser.post(
            post_at + "/oauth/authorize", data={**fields, "username": employer[0], "password": DEMO_EMPLOYER_PASSWORD}
        )
        assert response.status_code == 403, response.text
        assert "location" not in response.headers


async def test_a_code_is_refused_once_expired_whichever_process_issued_it(
    settings: Settings, demo_database_url: str, employer: tuple[str, str]
) -> None:
    """Two apps on one database, each with its own clock: the code issued by the first expires by the clock of
    the one that is asked to exchange it."""
    issuing, exchanging = Clock(1_800_000_000.0), Clock(1_800_000_000.0)
    first = create_app(settings, database_url=demo_database_url, clock=issuing)
    async with first.router.lifespan_context(first):
        second = create_app(settings, database_url=demo_database_url, clock=exchanging)
        async with second.router.lifespan_context(second):
            clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
                       for app in (first, second)]  # fmt: skip
            async with clients[0] as at_first, clients[1] as at_second:
                fresh = await _sign_in(at_first, "", "", employer[0])
                stale = await _sign_in(at_first, "", "", employer[0])
                exchanging.now += 30
                assert (await _exchange(at_second, "", *fresh)).status_code == 200
                exchanging.now += 31  # past the code's one minute
                expired = await _exchange(at_second, "", *stale)
    assert expired.status_code == 400, expired.text
    assert expired.json()["error"] == "invalid_grant"


async def test_expired_codes_are_purged_when_a_code_is_stored(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2027, 1, 4, 9, tzinfo=UTC)
    code = login_state.StoredCode(CLIENT_ID, REDIRECT, REDIRECT, "subject:read", "u", "c" * 43, "S256", now)
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await login_state.save_code(conn, b"a" * 32, code, now=now - timedelta(minutes=1))
            await login_state.save_code(conn, b"b" * 32, code, now=now)
            assert await login_state.count_codes(conn) == 1
            assert (await login_state.take_code(conn, b"b" * 32, now=now)).code is None  # expired
            taken = await login_state.take_code(conn, b"a" * 32, now=now)
            assert taken.code is None and not taken.replayed  # purged, as if it had never been
    finally:
        await engine.dispose()


async def test_configured_keys_are_used_and_none_is_stored(settings: Settings, database_url: str) -> None:
    keys = SigningKeys.generate()
    configured = Settings.model_validate(
        {**settings.model_dump(), "signing_key": keys.private_jwk_json(), "login_csrf_key": secrets.token_urlsafe(32)}
    )
    async with running_app(configured, database_url) as api:
        jwks = (await api.client.get("/.well-known/jwks.json")).json()
        async with api.engine.connect() as conn:
            stored = (await conn.execute(sa.select(sa.func.count()).select_from(auth_secrets))).scalar_one()
    assert [key["kid"] for key in jwks["keys"]] == [keys.kid]
    assert stored == 0


def test_a_signing_key_that_is_not_one_is_refused_without_quoting_it() -> None:
    secret_text = '{"kty": "EC", "crv": "P-256", "x": "not-a-point", "d": "TOP-SECRET"}'
    with pytest.raises(ValueError) as refused:
        SigningKeys.from_json(secret_text, source="HRSS_SIGNING_KEY")
    assert "HRSS_SIGNING_KEY" in str(refused.value)
    assert "TOP-SECRET" not in str(refused.value) and refused.value.__cause__ is None
