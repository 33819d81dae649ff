"""Browser tests: a real ``hrss-credit serve`` on a demo database of its own, driven through Playwright by Debian's
chromium (``apt-get install chromium``; Playwright's own browser download is not used).

Fixtures for any page of the app:

- ``served_app`` (for the package's tests, then stopped): the process; ``.base_url``, ``await .token(client_id)`` for a demo client's bearer
  token, ``DEMO_EMPLOYER`` for a demo employer's sign-in.
- ``browser_page``: a page in a fresh browser context (no cookies or storage from another test), 1280x800, Chinese
  locale. A request to any host other than the app is aborted and fails the test, so is an uncaught script error
  or a Content-Security-Policy violation; ``page_watch`` holds what was seen, for tests that check more.
- ``screenshot(page, name)``: saves ``name.png`` under $HRSS_SCREENSHOTS (``docs/screenshots`` to refresh the
  docs' pictures), else in the test's temporary directory.

Without chromium the tests are skipped, except under CI (the variable ``CI`` set), where they must run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route, async_playwright

from api.settings import DEMO_CLIENT_SECRET_PREFIX
from auth.accounts import DEMO_EMPLOYER_PASSWORD
from tests.conftest import cloned_database
from tests.processes import api_process

CHROMIUM = Path(os.environ.get("HRSS_CHROMIUM", "/usr/bin/chromium"))


@dataclass(frozen=True)
class DemoEmployer:
    """A demo employer's sign-in at the built-in authorization server (docs/demo-data.md: the A+ employer)."""

    username: str = "91310104MA1FHDD54P"
    password: str = DEMO_EMPLOYER_PASSWORD
    name: str = "上海宏安餐饮管理有限公司"


DEMO_EMPLOYER = DemoEmployer()


@dataclass(frozen=True)
class ServedApp:
    base_url: str
    database_url: str

    async def token(self, client_id: str, scope: str | None = None) -> str:
        """A demo client's access token (client credentials) from the app's own token endpoint."""
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            response = await client.post(
                "/oauth/token", data=form, auth=(client_id, DEMO_CLIENT_SECRET_PREFIX + client_id)
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class PageWatch:
    """What a page did that a test may check: requests to other hosts, uncaught errors, console errors."""

    foreign_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and there is no chromium at {CHROMIUM}: .ci/run installs it with apt-get")
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium); CI unset")


@pytest.fixture(scope="package")
async def served_app(
    server_url: str, demo_template_db: str, tmp_path_factory: pytest.TempPathFactory, chromium: Path
) -> AsyncIterator[ServedApp]:
    """One process for all the browser tests, on a clone of the demo database that only they write to; stopped,
    with the browser, once they are done rather than at the end of the whole suite."""
    async with cloned_database(server_url, demo_template_db) as url:
        with api_process(url, tmp_path_factory.mktemp("browser-app")) as base:
            yield ServedApp(base_url=base, database_url=url)


@pytest.fixture(scope="package")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
async def browser_page(browser: Browser, served_app: ServedApp, page_watch: PageWatch) -> AsyncIterator[Page]:
    origin = _origin(served_app.base_url)
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")

    async def only_the_app(route: Route) -> None:
        if _origin(route.request.url) == origin:
            await route.continue_()
        else:
            page_watch.foreign_requests.append(route.request.url)
            await route.abort("blockedbyclient")

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_watch.console_errors.append(message.text)

    await context.route("**/*", only_the_app)
    page = await context.new_page()
    page.on("pageerror", lambda error: page_watch.page_errors.append(str(error)))
    page.on("console", console)
    try:
        yield page
    finally:
        await context.close()
    assert not page_watch.foreign_requests, f"requests to hosts other than the app: {page_watch.foreign_requests}"
    assert not page_watch.page_errors, f"uncaught errors in the page: {page_watch.page_errors}"
    assert not page_watch.csp_violations(), f"Content-Security-Policy violations: {page_watch.csp_violations()}"


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Awaitable[Path]]:
    configured = os.environ.get("HRSS_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path

    async def take(page: Page, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.png"
        await page.screenshot(path=str(path))
        return path

    return take


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
