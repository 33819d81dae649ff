"""GraphiQL for developers (dev mode only), served from the app's own files so that it works where no CDN is reachable.

``GET /graphql`` from a browser (an ``Accept`` naming ``text/html``) gets this page, with or without a query
string: GraphiQL writes the query into the address bar, and a reload must bring the page back, not a 401. The page
loads only the files under ``api/static/graphiql`` (the vendored builds named in its README, and ``app.js``, which
starts GraphiQL); its Content-Security-Policy allows nothing but this origin, so no inline script or style is
needed and none runs.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
STATIC_PATH = "/static/graphiql"

# In load order: React before the UMD builds that read it from window, GraphiQL before its explorer plugin, the
# page's own script last. The versions are those tools/vendor-graphiql.sh pins.
_STYLES = (
    "vendor/graphiql-3.8.3/graphiql.min.css",
    "vendor/plugin-explorer-3.2.5/style.css",
    "app.css",
)
_SCRIPTS = (
    "vendor/react-18.3.1/react.production.min.js",
    "vendor/react-dom-18.3.1/react-dom.production.min.js",
    "vendor/graphiql-3.8.3/graphiql.min.js",
    "vendor/plugin-explorer-3.2.5/index.umd.js",
    "app.js",
)
ASSETS = _STYLES + _SCRIPTS

# GraphiQL's stylesheet carries its fonts and icons as data: URLs; everything else comes from this origin, and
# connect-src 'self' covers the WebSocket of subscriptions to the same host. No 'unsafe-inline' or 'unsafe-eval'.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def _page() -> str:
    # Relative URLs: the page is /graphql, so they resolve under /static/graphiql, also behind a path prefix.
    base = STATIC_PATH.lstrip("/")
    styles = "\n".join(f'    <link rel="stylesheet" href="{base}/{path}">' for path in _STYLES)
    scripts = "\n".join(f'    <script src="{base}/{path}"></script>' for path in _SCRIPTS)
    return f"""<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>hrss-credit GraphiQL</title>
    <link rel="icon" href="data:,">
{styles}
  </head>
  <body>
    <div id="graphiql">Loading…</div>
{scripts}
  </body>
</html>
"""


PAGE = _page()


def is_page_request(scope: Scope) -> bool:
    """A browser asking for /graphql as a page: a GET whose Accept names HTML (what a GraphQL client sends never
    does), whatever its query string."""
    if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
        return False
    for name, value in scope.get("headers") or ():
        if name == b"accept":
            return b"text/html" in value.lower()
    return False


def page_response() -> HTMLResponse:
    return HTMLResponse(
        PAGE,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
