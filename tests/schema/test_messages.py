"""Every English message the API raises has a Chinese entry in the catalogue (schema/messages.py).

The messages are found in the source itself: the first argument of each coded refusal and of each reason
(identifiers, record fields, bulk rows, repair refusals, token checks), the messages assigned at the request
boundary, and the refusals the domain returns. A new message without its Chinese fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from schema.messages import OWN_MESSAGES, catalogue, translate
from schema.messages_graphql import GRAPHQL_MESSAGES

ROOT = Path(__file__).resolve().parents[2]
# The constructors whose argument (at this position) is a message a client reads.
CALLS = {
    "BadUserInput": 0, "Forbidden": 0, "NotFound": 0, "Conflict": 0, "GraphQLError": 0, "InvalidToken": 0,
    "InvalidIdentifier": 1, "FieldProblem": 1, "RepairRefusal": 1, "InvalidField": 1, "bad": 1, "_error_response": 1,
}  # fmt: skip
ASSIGNED = {"message", "refusal", "reason"}
FILES = [
    *sorted((ROOT / "schema").glob("*.py")),
    *sorted(p for p in (ROOT / "services").glob("*.py") if p.name != "import_chunks.py"),  # the CLI's report
    *(ROOT / name for name in ("api/graphql.py", "auth/middleware.py", "auth/tokens.py", "auth/remote.py")),
    *(ROOT / "domain" / name for name in ("identifiers.py", "records.py", "objections.py", "publicity.py")),
    ROOT / "store/bulk.py",
]
# A known message stands in for every placeholder, so that a nested reason is one the catalogue translates.
FILLER = "must be a string"
PLACEHOLDER = re.compile(r"\{\w+\}")


def _template(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _messages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        n.targets[0].id: t
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and (t := _template(n.value))
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in CALLS and len(node.args) > CALLS[name]:
                argument = node.args[CALLS[name]]
                text = constants.get(argument.id) if isinstance(argument, ast.Name) else _template(argument)
                found.add(text) if text else None
        elif isinstance(node, ast.Assign):
            names = {
                t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else ""
                for t in node.targets
            }
            if names & ASSIGNED and (text := _template(node.value)):
                found.add(text)
        elif isinstance(node, ast.FunctionDef) and "refusal" in node.name:
            returned = (_template(r.value) for r in ast.walk(node) if isinstance(r, ast.Return) and r.value)
            found.update(t for t in returned if t)
    return found


def raised_messages() -> dict[str, str]:
    return {message: str(path.relative_to(ROOT)) for path in FILES for message in _messages(path)}


def test_the_scan_finds_the_messages_of_every_layer() -> None:
    found = raised_messages()
    assert len(found) > 120
    assert "A unified social credit code must be 18 characters long." in found  # a domain reason
    assert "Forbidden: this record is outside what the caller may see" in found  # an authorization refusal
    assert "the operation costs {}, more than the limit of {}" in found  # a request limit
    assert "Invalid access token: {}." in found  # the bearer token's refusal


@pytest.mark.parametrize(("message", "where"), sorted(raised_messages().items()))
def test_every_raised_message_has_its_chinese(message: str, where: str) -> None:
    sample = message.replace("{}", FILLER)
    chinese = catalogue().chinese(sample)
    assert chinese is not None, f"{where}: no Chinese for {message!r}"
    assert chinese != sample


def test_every_entry_is_translated_and_keeps_its_placeholders() -> None:
    for english, chinese in (*OWN_MESSAGES, *GRAPHQL_MESSAGES):
        assert chinese != english
        assert sorted(PLACEHOLDER.findall(english)) == sorted(PLACEHOLDER.findall(chinese)), english


def test_a_repair_refusal_is_translated_with_its_article_and_earliest_day() -> None:
    message = (
        "repair refused (MINIMUM_PUBLICITY): the minimum publicity window runs until 2026-03-01; earliest 2026-03-02"
    )
    assert translate(message, "zh") == (
        "信用修复申请不予受理（MINIMUM_PUBLICITY）：最短公示期限至 2026-03-01；最早可于 2026-03-02 申请"
    )


def test_a_field_reason_is_translated_inside_its_field() -> None:
    message = "refs[2].uscc: The unified social credit code has a wrong check character (character 18)."
    assert translate(message, "zh") == "refs[2].uscc：统一社会信用代码的校验码（第 18 位）错误。"


def test_a_library_detail_is_copied_as_it_is() -> None:
    message = "the body is not JSON in UTF-8: unexpected character: line 1 column 1 (char 0)"
    assert translate(message, "zh") == "请求体不是 UTF-8 编码的 JSON：unexpected character: line 1 column 1 (char 0)"


def test_a_message_without_an_entry_stays_english() -> None:
    assert translate("Something graphql-core says one day.", "zh") == "Something graphql-core says one day."
    assert translate("refs[0].uscc: an unknown reason", "zh") == "refs[0].uscc: an unknown reason"


def test_english_is_left_as_it_is() -> None:
    assert translate("no such record", "en") == "no such record"
