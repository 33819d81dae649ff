"""The CSRF defence of the employer login form (RFC 6749 §10.12): a signed double-submit token.

The form carries a token bound to a nonce in the browser's cookie, to the authorization request's
parameters and to the time it was issued, signed with the deployment's CSRF key (``auth.shared_keys``): every
process holds the same one, so a form rendered by one process is accepted by any other behind a load
balancer, and a restart does not void the open forms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["CSRF_FIELD", "LOGIN_FORM_TTL_SECONDS", "LoginCsrf"]

LOGIN_FORM_TTL_SECONDS = 600
"""How long a rendered login form (its CSRF token) may be submitted."""
CSRF_FIELD = "csrf_token"
"""The hidden form field that carries the token."""

_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")


class LoginCsrf:
    """Issues and checks the login form's CSRF tokens and keeps the cookie nonce they are bound to."""

    def __init__(self, *, key: Callable[[], bytes], clock: Callable[[], float]) -> None:
        # Asked for at each use: the shared key is loaded after the server is built.
        self._key = key
        self._clock = clock

    @staticmethod
    def cookie_name(request: Request) -> str:
        # "__Host-" pins the cookie to this host, path "/" and https (RFC 6265bis §4.1.3.2).
        return "__Host-hrss-authorize" if request.url.scheme == "https" else "hrss-authorize"

    def nonce(self, request: Request) -> str:
        """The browser's nonce from its cookie, or a fresh one when it has none that is well-formed."""
        nonce = request.cookies.get(self.cookie_name(request))
        if not isinstance(nonce, str) or not _COOKIE_VALUE.fullmatch(nonce):
            nonce = secrets.token_urlsafe(32)
        return nonce

    def set_cookie(self, response: Response, request: Request, nonce: str) -> None:
        response.set_cookie(
            self.cookie_name(request),
            nonce,
            max_age=LOGIN_FORM_TTL_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    def delete_cookie(self, response: Response, request: Request) -> None:
        secure = request.url.scheme == "https"
        response.delete_cookie(self.cookie_name(request), path="/", secure=secure, httponly=True, samesite="strict")

    def _mac(self, nonce: str, params: Mapping[str, str], issued_at: int) -> str:
        message = json.dumps(
            ["login-csrf-v1", nonce, issued_at, sorted(params.items())], ensure_ascii=True, separators=(",", ":")
        ).encode("ascii")
        digest = hmac.new(self._key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def token(self, nonce: str, params: Mapping[str, str]) -> str:
        """Double-submit token: bound to the browser's cookie nonce, to this authorization request's
        parameters and to the time it was issued (now), and signed with the deployment's key."""
        issued_at = int(self._clock())
        return f"{issued_at}.{self._mac(nonce, params, issued_at)}"

    def check(self, request: Request, token: str | None, params: Mapping[str, str]) -> bool:
        """Whether ``token`` was issued here, recently, for this browser's cookie nonce and these ``params``."""
        nonce = request.cookies.get(self.cookie_name(request))
        if not token or not nonce or not _COOKIE_VALUE.fullmatch(nonce):
            return False
        issued, _, mac = token.partition(".")
        if not issued.isascii() or not issued.isdigit() or len(issued) > 12 or not mac:
            return False
        issued_at = int(issued)
        age = self._clock() - issued_at
        if not -5 <= age <= LOGIN_FORM_TTL_SECONDS:
            return False
        expected = self._mac(nonce, params, issued_at)
        return hmac.compare_digest(expected.encode("ascii"), mac.encode("utf-8", errors="replace"))
