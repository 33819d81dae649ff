"""GraphiQL in a real browser: every file from the app itself, the schema once a token is in the headers pane,
a query's result, a reload with the query in the address bar, and no token left in the browser's storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Locator, Page, Request, Response, expect

from tests.browser.conftest import ServedApp

SCREEN = (
    "query Screen {\n"
    '  screen(sector: GOVERNMENT_PROCUREMENT, refs: [{uscc: "91310107MA17CGYP5K"}, {uscc: "91310104MA1FHDD54P"}]) {\n'
    "    ref found restricted\n"
    "  }\n"
    "}\n"
)


async def replace_text(page: Page, editor: Locator, text: str) -> None:
    """Types into a CodeMirror editor as a person pasting would: select everything, insert the text."""
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)


async def test_graphiql_works_from_the_apps_own_files_and_keeps_no_token(
    browser_page: Page, served_app: ServedApp, screenshot: Callable[[Page, str], Awaitable[Path]]
) -> None:
    page = browser_page
    introspections: list[Request] = []
    graphql_statuses: list[int] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and "IntrospectionQuery" in (request.post_data or ""):
            introspections.append(request)

    def on_response(response: Response) -> None:
        if response.request.method == "POST" and response.url.startswith(served_app.base_url + "/graphql"):
            graphql_statuses.append(response.status)

    page.on("request", on_request)
    page.on("response", on_response)

    opened = await page.goto(served_app.base_url + "/graphql")
    assert opened is not None and opened.status == 200
    headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    await expect(headers).to_contain_text('"Authorization": "Bearer "')
    assert introspections == []  # without a token it could only be refused

    token = await served_app.token("procurement")
    await replace_text(page, headers, f'{{"Authorization": "Bearer {token}"}}')
    await page.get_by_label("Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    await expect(docs.get_by_text("Root Types")).to_be_visible()
    await docs.get_by_text("Query", exact=True).click()
    await expect(docs.get_by_text("screen", exact=True)).to_be_visible()
    await page.get_by_label("Show GraphiQL Explorer").click()
    await expect(page.locator(".graphiql-explorer-root").get_by_text("subjects", exact=True)).to_be_visible()

    await replace_text(page, page.locator(".graphiql-query-editor .CodeMirror"), SCREEN)
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"restricted": true')
    await expect(result).to_contain_text('"restricted": false')
    await screenshot(page, "graphiql")
    assert "query=" in page.url and "Bearer" not in page.url
    assert all(status == 200 for status in graphql_statuses), graphql_statuses
    assert len(introspections) >= 1

    stored = await page.evaluate("() => JSON.stringify(Object.assign({}, window.localStorage))")
    assert "graphiql:queries" in stored  # the history is kept, so its headers would have been there
    assert token not in stored and "authorization" not in stored.lower(), stored[:500]

    reloaded = await page.reload()
    assert reloaded is not None and reloaded.status == 200
    assert reloaded.headers["content-type"].startswith("text/html")
    await expect(page.locator(".graphiql-query-editor .CodeMirror")).to_contain_text("GOVERNMENT_PROCUREMENT")
    await expect(headers).to_contain_text('"Authorization": "Bearer "')
    await expect(headers).not_to_contain_text(token[:40])
