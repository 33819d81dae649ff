"""Tests generated from the policy (auth/policy.toml): every audience x every field is allowed or refused exactly
as the policy says, through the real app and real tokens; the committed SDL of every audience is current."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType, get_named_type, is_enum_type, is_interface_type, is_object_type, is_scalar_type

from auth.policy import PolicyError, load_policy, parse_policy
from schema.audiences import AudienceSchemas, schema_fields
from schema.build import build_schema
from tests.conftest import Api

POLICY = load_policy()
FULL = build_schema()
SCHEMAS = AudienceSchemas(FULL, POLICY)
CLIENT_CREDENTIAL_AUDIENCES = sorted(a for a in POLICY.audiences if a != "employer")
SDL_DIR = Path(__file__).resolve().parents[2] / "schema" / "sdl"


def expected_fields(audience: str) -> set[str]:
    """What the policy allows, after dropping fields whose object type has nothing left (to a fixed point)."""
    scopes = POLICY.audiences[audience].scopes
    schema = FULL._schema
    allowed = {f for f in schema_fields(schema) if POLICY.field_allowed(*f.split("."), audience, scopes)}
    while True:
        alive = {f.split(".")[0] for f in allowed}
        dead = set()
        for entry in allowed:
            type_name, field = entry.split(".")
            target = get_named_type(schema.type_map[type_name].fields[field].type)  # type: ignore[attr-defined]
            if (is_object_type(target) or is_interface_type(target)) and target.name not in alive:
                dead.add(entry)
        if not dead:
            break
        allowed -= dead
    return allowed


def visible_fields(audience: str) -> set[str]:
    found = POLICY.audiences[audience]
    return set(schema_fields(SCHEMAS.get(found, found.scopes)._schema))


@pytest.mark.parametrize("audience", sorted(POLICY.audiences))
def test_each_audience_schema_has_exactly_the_fields_its_policy_allows(audience: str) -> None:
    visible = visible_fields(audience)
    expected = expected_fields(audience)
    # Types that nothing reachable leads to are dropped too; everything visible must be allowed.
    assert visible <= expected
    roots = {"Query", "Mutation", "Subscription"}
    reachable_expected = {f for f in expected if f.split(".")[0] in {t.split(".")[0] for t in visible} | roots}
    assert visible == reachable_expected


@pytest.mark.parametrize("audience", sorted(POLICY.audiences))
def test_committed_sdl_of_each_audience_is_current(audience: str) -> None:
    committed = (SDL_DIR / f"{audience}.graphql").read_text(encoding="utf-8")
    assert committed == SCHEMAS.sdl(audience) + "\n", f"run `hrss-credit schema write-sdl` ({audience})"


def test_committed_full_sdl_is_current() -> None:
    assert (SDL_DIR / "full.graphql").read_text(encoding="utf-8") == FULL.as_str() + "\n"


def test_a_field_without_a_policy_entry_fails_start_up() -> None:
    data = tomllib.loads(
        Path(__file__).resolve().parents[2].joinpath("auth", "policy.toml").read_text(encoding="utf-8")
    )
    del data["fields"]["Subject"]["idNumber"]
    with pytest.raises(PolicyError, match=r"without a policy entry.*Subject\.idNumber"):
        AudienceSchemas(FULL, parse_policy(data))


def test_policy_errors_name_the_entry() -> None:
    data = tomllib.loads(
        Path(__file__).resolve().parents[2].joinpath("auth", "policy.toml").read_text(encoding="utf-8")
    )
    data["fields"]["Subject"]["name"] = "subject:raed"
    with pytest.raises(PolicyError, match=r"fields\.Subject\.name: unknown scope 'subject:raed'"):
        parse_policy(data)
    data = tomllib.loads(
        Path(__file__).resolve().parents[2].joinpath("auth", "policy.toml").read_text(encoding="utf-8")
    )
    data["audiences"]["portal"]["rows"] = "everything"
    with pytest.raises(PolicyError, match=r"audiences\.portal\.rows"):
        parse_policy(data)


def _probe(type_name: str, field: str) -> str | None:
    """A minimal query that selects ``type_name.field`` from the root, or None when no short path exists."""
    paths = {
        "Query": "{ %s }",
        "Subject": '{ subject(ref: {uscc: "91310104000000011A"}) { %s } }',
        "CreditRecord": '{ node(id: "x") { ... on CreditRecord { %s } } }',
        "Grade": '{ subject(ref: {uscc: "91310104000000011A"}) { grade { %s } } }',
    }
    template = paths.get(type_name)
    if template is None:
        return None
    target = get_named_type(FULL._schema.type_map[type_name].fields[field].type)  # type: ignore[attr-defined]
    selection = field
    if isinstance(target, GraphQLObjectType) or is_interface_type(target):
        selection = f"{field} {{ __typename }}"
    args = FULL._schema.type_map[type_name].fields[field].args  # type: ignore[attr-defined]
    required = {n: a for n, a in args.items() if str(a.type).endswith("!")}
    if required:
        fills = {
            "ref": '{uscc: "91310104000000011A"}',
            "refs": "[]",
            "sector": "BIDDING",
            "id": '"x"',
            "records": "[]",
            "subjects": "[]",
            "reason": '"x"',
        }
        if set(required) - set(fills):
            return None
        selection = f"{field}(" + ", ".join(f"{n}: {fills[n]}" for n in required) + ")" + selection[len(field) :]
    if not (is_scalar_type(target) or is_enum_type(target)) and "{" not in selection:
        return None
    return template % selection


@pytest.mark.parametrize("audience", CLIENT_CREDENTIAL_AUDIENCES)
async def test_every_probeable_field_is_allowed_or_refused_through_the_api(api: Api, audience: str) -> None:
    visible = visible_fields(audience)
    checked = 0
    for entry in sorted(schema_fields(FULL._schema)):
        type_name, field = entry.split(".")
        query = _probe(type_name, field)
        if query is None or type_name == "Mutation":
            continue
        parent_visible = type_name == "Query" or any(v.startswith(type_name + ".") for v in visible)
        body: dict[str, Any] = (await api.post(query, as_client=audience)).json()
        messages = " ".join(e["message"] for e in body.get("errors", []))
        refused = f"Cannot query field '{field}' on type '{type_name}'" in messages or (
            not parent_visible and ("Unknown type" in messages or "Cannot query field" in messages)
        )
        assert refused == (entry not in visible), (audience, entry, messages)
        # A refusal suggests only fields the audience may see.
        for error in body.get("errors", []):
            on_type = re.search(r"on type '(\w+)'", error["message"])
            for suggestion in re.findall(r"'(\w+)'", error["message"].partition("Did you mean")[2]):
                assert on_type and f"{on_type.group(1)}.{suggestion}" in visible, (audience, error["message"])
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("audience", CLIENT_CREDENTIAL_AUDIENCES)
async def test_introspection_shows_exactly_the_audience_schema(api: Api, audience: str) -> None:
    query = "{ __schema { types { name kind fields { name } } } }"
    body = (await api.post(query, as_client=audience)).json()
    seen = {
        f"{t['name']}.{f['name']}"
        for t in body["data"]["__schema"]["types"]
        if t["kind"] in ("OBJECT", "INTERFACE") and not t["name"].startswith("__")
        for f in t["fields"] or []
    }
    assert seen == visible_fields(audience)


async def test_a_client_outside_the_policy_is_refused(api: Api) -> None:
    import time

    from joserfc import jwt

    keys = api.app.state.signing_keys
    now = int(time.time())
    claims = {
        "iss": "http://127.0.0.1:8000",
        "aud": "hrss-credit",
        "iat": now,
        "exp": now + 60,
        "client_id": "stranger",
        "sub": "stranger",
        "scope": "subject:read",
    }
    token = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": keys.kid}, claims, keys.private_key())
    response = await api.post("{ catalogue { recordTypes } }", token=token)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_an_argument_without_a_policy_entry_fails_start_up() -> None:
    data = tomllib.loads(
        Path(__file__).resolve().parents[2].joinpath("auth", "policy.toml").read_text(encoding="utf-8")
    )
    del data["arguments"]["Query"]["subjects"]["grade"]
    with pytest.raises(PolicyError, match=r"arguments without a policy entry.*Query\.subjects\.grade"):
        AudienceSchemas(FULL, parse_policy(data))


@pytest.mark.parametrize("audience", ["finance", "employment", "source-unit"])
async def test_listing_by_grade_needs_grade_read(demo_api: Api, audience: str) -> None:
    """policy.md: filter arguments reveal what fields hide; subjects(grade:) needs grade:read."""
    body = await demo_api.gql("{ subjects(grade: C) { totalCount edges { node { name } } } }", as_client=audience)
    assert body.get("data") is None
    assert "Unknown argument 'grade'" in body["errors"][0]["message"]
    assert "GradeLevel" not in str(body)
    log = "{ auditLog(first: 1) { edges { node { audience fieldsRefused } } } }"
    entry = (await demo_api.gql(log, as_client="auditor"))["data"]["auditLog"]["edges"][0]["node"]
    assert entry == {"audience": audience, "fieldsRefused": ["Query.subjects(grade)"]}
    shape = """{ __type(name: "Query") { fields { name args { name } } } }"""
    fields = (await demo_api.gql(shape, as_client=audience))["data"]["__type"]["fields"]
    subjects = next(f for f in fields if f["name"] == "subjects")
    assert "grade" not in {a["name"] for a in subjects["args"]}


async def test_a_holder_of_grade_read_lists_by_grade(demo_api: Api) -> None:
    body = await demo_api.gql("{ subjects(grade: C) { totalCount } }", as_client="procurement")
    assert body["data"]["subjects"]["totalCount"] > 0
