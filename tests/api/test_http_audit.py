"""The GraphQL-over-HTTP audit of graphql-http (the reference implementation's own suite) against a real
`hrss-credit serve`: every MUST and every SHOULD of the specification holds, application/graphql-response+json
included."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.node import node_binary, node_environment, npm_ci, run_node
from tests.processes import api_process

AUDIT_DIR = Path(__file__).resolve().parents[1] / "http_audit"


def _audit(base: str, token: str) -> list[dict[str, str]]:
    node = node_binary()
    env = node_environment(node)
    npm_ci(AUDIT_DIR, node, env)
    env["HRSS_AUDIT_TOKEN"] = token
    output = run_node(node, "audit.mjs", [base + "/graphql"], cwd=AUDIT_DIR, env=env)
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_graphql_over_http_audit_passes_every_must_and_every_should(demo_database_url: str, tmp_path: Path) -> None:
    with api_process(demo_database_url, tmp_path) as base:
        issued = httpx.post(
            base + "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("procurement", "demo-secret-procurement"),
        )
        assert "server" not in issued.headers  # uvicorn's own header names the software to an attacker
        token = issued.json()["access_token"]
        results = _audit(base, token)
    must = [r for r in results if r["name"].startswith("MUST")]
    should = [r for r in results if r["name"].startswith("SHOULD")]
    assert len(must) >= 13 and len(should) >= 23, results
    failed = [r for r in must + should if r["status"] != "ok"]
    assert not failed, failed
