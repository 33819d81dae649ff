"""The GraphiQL page (dev mode): served from the app's own files, with or without a query string, under a policy
that allows this origin only; absent in production. tests/browser drives it in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import graphiql
from api.settings import Settings
from tests.conftest import Api, running_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    "query_string", ["", "?query=%7B%20catalogue%20%7B%20recordTypes%20%7D%20%7D&variables=%7B%7D"]
)
async def test_a_browser_gets_the_page_with_or_without_a_query_string(api: Api, query_string: str) -> None:
    response = await api.client.get("/graphql" + query_string, headers=BROWSER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<div id="graphiql">' in response.text


async def test_the_page_loads_only_files_of_this_origin_under_a_self_only_policy(api: Api) -> None:
    page = (await api.client.get("/graphql", headers=BROWSER)).text
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s == "data:," or s.startswith("static/graphiql/") for s in sources), sources
    assert "<script>" not in page and "<style" not in page and " style=" not in page  # nothing inline
    for source in sources[1:]:
        asset = await api.client.get("/" + source)
        assert asset.status_code == 200, source
        assert asset.content == (graphiql.STATIC_DIR / source.removeprefix("static/graphiql/")).read_bytes()
    policy = dict(
        directive.split(" ", 1)
        for directive in (await api.client.get("/graphql", headers=BROWSER))
        .headers["content-security-policy"]
        .split("; ")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


def test_every_vendored_package_keeps_its_license_and_the_readme_names_its_version() -> None:
    vendor = graphiql.STATIC_DIR / "vendor"
    readme = (graphiql.STATIC_DIR / "README.md").read_text()
    packages = sorted(p for p in vendor.iterdir() if p.is_dir())
    assert {p.name.rsplit("-", 1)[0] for p in packages} == {"graphiql", "react", "react-dom", "plugin-explorer"}
    for package in packages:
        assert "MIT" in (package / "LICENSE").read_text(), package.name
        assert f"`vendor/{package.name}/`" in readme
    for asset in graphiql.ASSETS:
        assert (graphiql.STATIC_DIR / asset).is_file(), asset


async def test_a_graphql_client_still_needs_a_token(api: Api) -> None:
    for accept in ("application/json", "application/graphql-response+json", "*/*"):
        response = await api.client.get("/graphql", params={"query": "{ __typename }"}, headers={"Accept": accept})
        assert response.status_code == 401, accept


async def test_production_serves_neither_the_page_nor_its_files(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    production = settings.model_copy(update={"env": "production", "demo_clients": False, "data_dir": tmp_path})
    async with running_app(production, database_url) as app:
        page = await app.client.get("/graphql", headers=BROWSER)
        assert page.status_code == 401
        assert "<html" not in page.text
        assert (await app.client.get("/static/graphiql/app.js")).status_code == 404
