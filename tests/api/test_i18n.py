"""Error messages in Chinese when Accept-Language prefers zh, English otherwise; extensions.code unchanged."""

from __future__ import annotations

import pytest

from api.i18n import language_of
from schema.ids import global_id
from tests.conftest import Api

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
BAD_USCC = '{ subject(ref: {uscc: "91310117MA12QF388D"}) { name } }'


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-TW, en;q=0.5", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.3, zh;q=0.7", "zh"),
        ("zh;q=0, en", "en"),
        ("zh;q=0", "en"),
        ("fr, zh;q=0.1", "zh"),
        ("*", "en"),
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("zh;q=abc", "en"),
        ("zh, en", "zh"),
        ("en, zh", "en"),
    ],
)
def test_the_language_follows_the_q_values(header: str | None, language: str) -> None:
    assert language_of(header) == language


async def test_a_field_error_of_bad_input_is_chinese_and_keeps_its_code(api: Api) -> None:
    english = (await api.gql(BAD_USCC, as_client="inspection"))["errors"][0]
    chinese = (await api.gql(BAD_USCC, as_client="inspection", headers=ZH))["errors"][0]
    assert english["message"] == "ref.uscc: The unified social credit code has a wrong check character (character 18)."
    assert chinese["message"] == "ref.uscc：统一社会信用代码的校验码（第 18 位）错误。"
    assert chinese["extensions"] == english["extensions"] == {"code": "BAD_USER_INPUT", "field": "ref.uscc"}


async def test_validation_and_syntax_errors_are_chinese(api: Api) -> None:
    cases = {
        "{ catalogue { nope } }": "类型“Catalogue”上没有可查询的字段“nope”。",
        '{ subject(ref: {uscc: "x"}, bogus: 1) { name } }': "字段“Query.subject”没有参数“bogus”。",
        "{ screen(refs: []) { found } }": "缺少必填参数“Query.screen(sector:)”（类型“Sector!”）。",
        "{ catalogue {": "语法错误：此处应为 Name，实际为 <EOF>。",
    }
    for query, message in cases.items():
        body = await api.gql(query, as_client="procurement", headers=ZH)
        assert body["errors"][0]["message"] == message, body


async def test_a_variable_of_the_wrong_type_is_chinese_and_names_the_variable(api: Api) -> None:
    query = "query ($n: Int) { subjects(first: $n) { totalCount } }"
    body = await api.gql(query, {"n": "abc"}, as_client="inspection", headers=ZH)
    assert body["errors"][0]["message"] == "变量“$n”的值无效：Int 不能表示非整数值：'abc'"
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "variables.n"}


async def test_authorization_refusals_are_chinese(api: Api) -> None:
    query = '{ node(id: "' + global_id("CreditRecord", 1) + '") { id } }'
    body = await api.gql(query, as_client="procurement", headers={"Accept-Language": "zh"})
    assert body["errors"][0]["message"] == "禁止访问：信用记录超出调用方可查看的范围"
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    stranger = api.signed_token("stranger", "subject:read")
    response = await api.post("{ catalogue { recordTypes } }", token=stranger, headers=ZH)
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "message": "该客户端在访问策略中没有受众",
        "extensions": {"code": "FORBIDDEN"},
    }


async def test_a_request_limit_is_chinese(api: Api) -> None:
    query = "{ " + " ".join(f"a{i}: catalogue {{ __typename }}" for i in range(16)) + " }"
    body = await api.gql(query, as_client="portal", headers=ZH)
    assert body["errors"][0]["message"] == "使用了 16 个别名，最多允许 15 个"
    assert body["errors"][0]["extensions"] == {"code": "TOO_MANY_ALIASES", "limit": 15}


async def test_a_missing_token_and_a_bad_body_are_refused_in_chinese(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ catalogue { __typename } }"}, headers=ZH)
    assert response.status_code == 401
    assert response.json()["errors"][0] == {
        "message": "需要身份认证：请以“Authorization: Bearer <令牌>”发送访问令牌。",
        "extensions": {"code": "UNAUTHENTICATED"},
    }
    bad = await api.client.post("/graphql", json={"query": "{ catalogue { __typename } }"}, headers={
        **ZH, "Authorization": "Bearer x.y.z"
    })  # fmt: skip
    assert bad.json()["errors"][0]["message"].startswith("访问令牌无效：")
    token = await api.token("portal")
    response = await api.client.post(
        "/graphql",
        content=b'"a string"',
        headers={**ZH, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "message": "请求体必须是包含 query 的 JSON 对象",
        "extensions": {"code": "BAD_REQUEST"},
    }


async def test_english_is_the_default_and_an_unknown_message_stays_english(api: Api) -> None:
    body = await api.gql(BAD_USCC, as_client="inspection", headers={"Accept-Language": "de-DE, fr;q=0.5"})
    assert body["errors"][0]["message"].startswith("ref.uscc: The unified social credit code")
    body = await api.gql(BAD_USCC, as_client="inspection", headers={"Accept-Language": "*"})
    assert body["errors"][0]["message"].startswith("ref.uscc: The unified social credit code")
