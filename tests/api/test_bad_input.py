"""Bad input is refused with a code naming the field, never a 500 and never SQL."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import Api

SUBJECTS = "query ($n: String) { subjects(nameContains: $n) { totalCount } }"


async def test_a_purpose_with_control_characters_is_a_bad_request(demo_api: Api) -> None:
    response = await demo_api.post(SUBJECTS, {"n": "建筑"}, as_client="inspection", headers={"X-Purpose": "a%00b"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_REQUEST", "field": "X-Purpose"}
    assert "INSERT" not in response.text


async def test_a_nul_in_a_variable_names_the_variable(demo_api: Api) -> None:
    body = await demo_api.gql(SUBJECTS, {"n": "a\x00b"}, as_client="inspection")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "variables.n"}


async def test_a_nul_in_a_literal_names_the_argument(demo_api: Api) -> None:
    body = await demo_api.gql('{ subjects(nameContains: "a\\u0000b") { totalCount } }', as_client="inspection")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "nameContains"}
    assert body.get("data") is None


async def test_a_printable_purpose_is_still_audited(demo_api: Api) -> None:
    response = await demo_api.post(
        SUBJECTS, {"n": "建筑"}, as_client="inspection", headers={"X-Purpose": "%E6%A3%80%E6%9F%A5"}
    )
    assert response.status_code == 200
    assert "errors" not in response.json()


async def _raw(api: Api, body: bytes) -> tuple[int, dict[str, object]]:
    token = await api.token("inspection")
    response = await api.client.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    return response.status_code, response.json()


async def test_a_body_that_is_not_a_json_object_is_a_bad_request(api: Api) -> None:
    for body in (b'"just a string"', b"[" * 100_000 + b"]" * 100_000, b'{"query": "\xff\xfe"}', b"{"):
        status, answer = await _raw(api, body)
        assert status == 400, body[:20]
        assert answer["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}  # type: ignore[index]


async def test_a_wrongly_typed_variable_names_the_variable(api: Api) -> None:
    body = await api.gql("query ($n: Int) { subjects(first: $n) { totalCount } }", {"n": "abc"}, as_client="inspection")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "variables.n"}
    assert body["errors"][0]["message"] != "Internal error"


async def test_a_read_whose_audit_entry_cannot_be_written_returns_nothing_and_no_sql(demo_api: Api) -> None:
    """policy.md: every read is audited. When the audit append fails after the read ran (a real database error,
    raised by a trigger for this request's purpose only), the caller gets no data and no internals."""
    async with demo_api.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit storage refused the row'; END $$"
            )
        )
        await conn.execute(
            sa.text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW "
                "WHEN (NEW.purpose = 'audit-fault') EXECUTE FUNCTION refuse_audit()"
            )
        )
    response = await demo_api.post(
        SUBJECTS, {"n": "建筑"}, as_client="inspection", headers={"X-Purpose": "audit-fault"}
    )
    body = response.json()
    assert body.get("data") is None, body
    assert body["errors"][0]["message"] == "Internal error"
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for internal in ("INSERT", "audit_log", "refused the row", "sqlalchemy"):
        assert internal not in response.text
