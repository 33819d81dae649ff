"""Request limits (policy.md: one request, from any caller, never starves the others): each is refused before
execution with its code and the limit it hit; the README's queries and a screen of 1,000 refs stay allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.settings import Settings
from auth.keys import SigningKeys
from tests import factories
from tests.conftest import TEST_PII_KEY, Api, running_app
from tests.faults import gate_to

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SCREEN = """query ($refs: [SubjectRef!]!) {
  screen(sector: GOVERNMENT_PROCUREMENT, refs: $refs) { ref found restricted restrictions { measure } } }"""


def _code(body: dict[str, object]) -> tuple[object, object]:
    error = body["errors"][0]  # type: ignore[index]
    return error["extensions"]["code"], error["extensions"]["limit"]


async def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    token = await api.token("portal")
    huge = '{"query": "{ __typename }", "x": "' + "a" * 2_000_000 + '"}'
    response = await api.client.post(
        "/graphql", content=huge, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert _code(response.json()) == ("PAYLOAD_TOO_LARGE", 1024 * 1024)
    assert (await api.client.get("/healthz")).status_code == 200


async def test_more_aliases_than_the_limit_are_refused(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: catalogue {{ __typename }}" for i in range(16)) + " }"
    assert _code(await api.gql(query, as_client="portal")) == ("TOO_MANY_ALIASES", 15)
    allowed = "{ " + " ".join(f"a{i}: catalogue {{ __typename }}" for i in range(15)) + " }"
    assert "errors" not in await api.gql(allowed, as_client="portal")


async def test_a_selection_deeper_than_the_limit_is_refused(api: Api) -> None:
    def nested(levels: int) -> str:
        inner = "name"
        for _ in range(levels):
            inner = f"legalRepresentative {{ {inner} }}"
        return '{ subject(ref: {uscc: "91310117MA12QF388C"}) { ' + inner + " } }"

    assert _code(await api.gql(nested(10))) == ("QUERY_TOO_DEEP", 10)
    assert "errors" not in await api.gql(nested(9))


async def test_more_tokens_than_the_limit_are_refused(api: Api) -> None:
    query = "{ " + " ".join("__typename" for _ in range(2001)) + " }"
    assert _code(await api.gql(query, as_client="portal")) == ("TOO_MANY_TOKENS", 2000)


async def test_a_screen_of_1000_refs_is_allowed_and_six_of_them_cost_too_much(api: Api) -> None:
    refs = [{"uscc": factories.new_uscc()} for _ in range(1000)]
    body = await api.gql(SCREEN, {"refs": refs}, as_client="procurement")
    assert "errors" not in body
    assert len(body["data"]["screen"]) == 1000
    many = (
        "query ($refs: [SubjectRef!]!) { "
        + " ".join(f"s{i}: screen(sector: GOVERNMENT_PROCUREMENT, refs: $refs) {{ found }}" for i in range(6))
        + " }"
    )
    body = await api.gql(many, {"refs": refs}, as_client="procurement")
    assert _code(body) == ("COST_LIMIT", 5000)
    assert body.get("data") is None


async def test_pages_multiply_the_cost_of_what_they_select(api: Api) -> None:
    query = "{ subjects(first: 100) { edges { node { records(first: 100) { edges { node { title } } } } } } }"
    assert _code(await api.gql(query, as_client="inspection"))[0] == "COST_LIMIT"


async def test_the_readme_queries_pass_every_limit(api: Api) -> None:
    queries = [block.split("```", 1)[0] for block in README.split("```graphql")[1:]]
    assert queries
    for block in queries:
        body = await api.gql(block, {"uscc": "91310117MA12QF388C"}, as_client="admin")
        codes = {e.get("extensions", {}).get("code") for e in body.get("errors", [])}
        assert not codes & {"QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "TOO_MANY_TOKENS", "COST_LIMIT"}, body


@pytest.fixture
async def production_api(settings: Settings, database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    production = settings.model_copy(
        update={"env": "production", "demo_clients": False, "database_url": database_url, "data_dir": tmp_path}
    )
    assert production.pii_key.get_secret_value() == TEST_PII_KEY
    async with running_app(production, database_url) as app:
        yield app


async def test_production_validation_names_no_suggestion(api: Api, production_api: Api) -> None:
    query = "{ catalogue { recordType } }"
    assert "Did you mean" in (await api.gql(query, as_client="portal"))["errors"][0]["message"]
    token = production_api.signed_token("portal", "subject:read record:read grade:read")
    body = (await production_api.post(query, token=token)).json()
    assert body["errors"][0]["message"].startswith("Cannot query field 'recordType'")
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_production_refuses_queries_over_get(production_api: Api) -> None:
    token = production_api.signed_token("portal", "subject:read record:read grade:read")
    response = await production_api.client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (400, 405)


async def test_an_unreachable_database_answers_503_with_a_code(settings: Settings) -> None:
    """An outage must be told apart from a defect: 503, code UNAVAILABLE, Retry-After; never SQL."""
    from tests.processes import free_port

    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    # Keys from the settings: the app knows them without the database, so its tokens are valid during the outage.
    quiet = Settings.model_validate(
        {
            **settings.model_dump(),
            "recompute_drain_seconds": 0,
            "signing_key": SigningKeys.generate().private_jwk_json(),
            "login_csrf_key": "a-login-csrf-key-of-the-test-0123456789",
        }
    )
    async with running_app(quiet, closed) as down:
        # The token endpoint needs the database too (its throttle): a token is signed by the app's issuer.
        token = down.signed_token("procurement", "subject:read grade:read restriction:government_procurement")
        query = '{ subject(ref: {uscc: "91310117MA12QF388C"}) { name } }'
        response = await down.post(query, token=token)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        error = response.json()["errors"][0]
        assert error["extensions"] == {"code": "UNAVAILABLE"}
        assert "SELECT" not in response.text
        assert (await down.client.get("/readyz")).status_code == 503


async def test_reads_recover_by_themselves_once_the_database_is_back(settings: Settings, database_url: str) -> None:
    """PostgreSQL restarting under a running app: 503 UNAVAILABLE while it is away, then answers again with no
    restart of the app (the pool drops the dead connections rather than handing them out)."""
    quiet = settings.model_copy(update={"recompute_drain_seconds": 0})
    query = "{ subjects(first: 1) { totalCount } }"
    with gate_to(database_url) as gate:
        async with running_app(quiet, gate.url_for(database_url)) as app:
            token = await app.token("inspection")
            assert (await app.post(query, token=token)).status_code == 200
            gate.close()
            during = await app.post(query, token=token)
            assert during.status_code == 503, during.text
            assert during.json()["errors"][0]["extensions"] == {"code": "UNAVAILABLE"}
            assert (await app.client.get("/readyz")).status_code == 503
            gate.open()
            after = await app.post(query, token=token)
            assert after.status_code == 200, after.text
            assert after.json()["data"]["subjects"]["totalCount"] == 0
            assert (await app.client.get("/readyz")).status_code == 200
