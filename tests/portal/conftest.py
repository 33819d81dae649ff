"""The employer portal in a real headless Chromium (Playwright driving Debian's chromium) against a real
``hrss-credit serve`` on a copy of the demo database: the portal, the login page, the token endpoint and
/graphql are the ones a browser meets, on one origin that is the issuer's.

Playwright's own browser download cannot work on this network, so the system chromium is launched. Without
it the browser tests skip, unless ``CI`` is set: there they fail, since CI installs chromium.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import cloned_database
from tests.processes import api_process

CHROMIUM = "/usr/bin/chromium"


def _require_chromium() -> None:
    if os.environ.get("CI"):
        return
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright for Python is not installed; CI installs it")


@pytest.fixture(scope="module")
async def portal_database(server_url: str, demo_template_db: str) -> AsyncIterator[str]:
    async with cloned_database(server_url, demo_template_db) as url:
        yield url


@pytest.fixture(scope="module")
def portal_base(portal_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A served API whose issuer is the URL the browser uses, so the portal's redirect URI is registered."""
    _require_chromium()
    data_dir = tmp_path_factory.mktemp("portal")
    with api_process(portal_database, data_dir) as base:  # its own URL is the issuer
        yield base


@pytest.fixture(scope="module")
async def browser(portal_base: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies, no storage) and its page, failing the test on a script error."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        await context.close()
    assert not errors, errors


def read_as(
    base: str,
    client: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    purpose: str | None = None,
    times: int = 1,
) -> dict[str, Any]:
    """What the API itself says to a demo client (``times`` reads, the last one returned): to compare the page
    with, and to leave the reads an employer's access log shows."""
    token = httpx.post(
        base + "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client, f"demo-secret-{client}")
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    if purpose:
        headers["X-Purpose"] = quote(purpose)
    body: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers=headers) as http:
        for _ in range(times):
            response = http.post("/graphql", json={"query": query, "variables": variables or {}})
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def admin_query(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return read_as(base, "admin", query, variables, purpose="门户测试核对")


def screenshot_path(name: str) -> Path | None:
    """Where to save a screenshot when PORTAL_SCREENSHOTS names a directory (docs/screenshots), else None."""
    directory = os.environ.get("PORTAL_SCREENSHOTS")
    return Path(directory) / f"portal-{name}.png" if directory else None
