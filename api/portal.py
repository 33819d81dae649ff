"""The reference employer portal (``/portal``) and the page at the demo client's redirect URI.

The portal is static HTML, CSS and a little JavaScript shipped in the package (``api/static/portal``); it signs
the employer in with authorization code + PKCE as the public client ``hrss-portal`` and then uses only the
public GraphQL API. The server's part is small: the client's registration, serving the files, and the headers
that keep them safe. One HTML page serves both ``/portal/`` and ``/portal/callback`` (the script tells them
apart), under a Content-Security-Policy that allows only this origin's script, style and requests, so that
neither an injected script nor a framing page can reach the access token held in the page's memory.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from auth.clients import PORTAL_CALLBACK_PATH, Client, portal_client

__all__ = ["PORTAL_PATH", "portal_clients", "portal_routes"]

PORTAL_PATH = "/portal"
STATIC_DIR = Path(__file__).parent / "static" / "portal"

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    # The callback's address carries the authorization code: never cached, never sent on as a Referer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def portal_clients(issuer: str) -> tuple[Client, ...]:
    """The portal's client for ``issuer``, or none when its callback cannot be a redirect URI there (plain
    ``http`` to a host that is not loopback): the API then serves on, without the portal's sign-in."""
    try:
        return (portal_client(issuer),)
    except ValueError as exc:
        structlog.get_logger("hrss_credit.portal").warning("employer portal sign-in disabled", reason=str(exc))
        return ()


async def _page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


async def _demo_callback_page(request: Request) -> Response:
    return FileResponse(
        STATIC_DIR / "oauth-callback.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
    )


async def _to_portal(request: Request) -> Response:
    # The page's relative URLs (assets, the API) resolve against /portal/, never /portal.
    return RedirectResponse(PORTAL_PATH + "/", status_code=308)


def portal_routes() -> list[BaseRoute]:
    """The portal's page, its callback, its assets, and a page for the demo client's ``/oauth/callback``."""
    return [
        Route(PORTAL_PATH, _to_portal, methods=["GET"]),
        Route(PORTAL_PATH + "/", _page, methods=["GET"]),
        Route(PORTAL_CALLBACK_PATH, _page, methods=["GET"]),
        Mount(PORTAL_PATH + "/static", StaticFiles(directory=STATIC_DIR), name="portal-static"),
        Route("/oauth/callback", _demo_callback_page, methods=["GET"]),
    ]
