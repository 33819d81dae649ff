"""Bearer token authentication as pure ASGI middleware (RFC 6750).

Written against the raw ASGI interface rather than ``BaseHTTPMiddleware`` so that it neither buffers nor
re-wraps streaming responses, and so that non-HTTP scopes (lifespan, websocket) pass through untouched.

For requests that need a token, the middleware accepts only the ``Authorization: Bearer`` header (RFC 6750
§2.1; the query-string form of §2.3 leaks tokens into logs and is not supported). The 401 challenge follows
RFC 6750 §3: without credentials it carries no error code (§3.1), with a bad token ``error="invalid_token"``.
The body is a GraphQL error document, since every client of this API speaks GraphQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .tokens import InvalidToken, TokenValidator

__all__ = ["BearerAuthMiddleware", "bearer_token"]

# RFC 6750 §2.1 b64token, which a compact JWS (base64url parts joined by ".") always satisfies.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6749 Appendix A.7 / RFC 6750 §3: error_description is limited to these characters.
_UNSAFE_DESCRIPTION = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class BearerAuthMiddleware:
    """Authenticate HTTP requests for which ``requires_token(scope)`` holds.

    On success the :class:`~auth.tokens.Principal` is put into ``scope["principal"]`` and
    ``scope["state"]["principal"]`` (so ``request.state.principal`` works too) before the app is called.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        validator: TokenValidator,
        requires_token: Callable[[Scope], bool],
        realm: str = "hrss-credit",
        translate: Callable[[str, Scope], str] | None = None,
    ) -> None:
        self.app = app
        # The message in the caller's language (the API layer's catalogue); the code and challenge stay as they are.
        self.translate = translate
        self.validator = validator
        self.requires_token = requires_token
        self.realm = _UNSAFE_DESCRIPTION.sub("", realm)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.requires_token(scope):
            await self.app(scope, receive, send)
            return

        values = [value for name, value in scope.get("headers", ()) if name.lower() == b"authorization"]
        if len(values) > 1:
            # RFC 6750 §3.1 invalid_request: more than one set of credentials.
            await self._reject(scope, send, 400, "invalid_request", "more than one Authorization header")
            return
        token = bearer_token(values[0]) if values else None
        if token is None:
            # No bearer credentials at all (absent, or another scheme such as Basic): RFC 6750 §3.1 says the
            # challenge then carries no error code.
            await self._reject(scope, send, 401, None, None)
            return
        try:
            principal = self.validator.validate(token)
        except InvalidToken as exc:
            await self._reject(scope, send, 401, "invalid_token", exc.reason)
            return

        scope["principal"] = principal
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _reject(self, scope: Scope, send: Send, status: int, error: str | None, description: str | None) -> None:
        challenge = f'Bearer realm="{self.realm}"'
        if error is not None:
            challenge += f', error="{error}"'
            if description:
                challenge += f', error_description="{_UNSAFE_DESCRIPTION.sub("", description)}"'
        if error is None:
            message = "Authentication required: send an access token as 'Authorization: Bearer <token>'."
            code = "UNAUTHENTICATED"
        elif error == "invalid_token":
            message = f"Invalid access token: {description}."
            code = "UNAUTHENTICATED"
        else:
            message = f"Bad request: {description}."
            code = "BAD_REQUEST"
        if self.translate is not None:
            message = self.translate(message, scope)
        body = json.dumps(
            {"errors": [{"message": message, "extensions": {"code": code}}]},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode("ascii")),
                    (b"www-authenticate", challenge.encode("ascii")),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def bearer_token(raw: bytes) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or ``None`` for any other scheme.

    The scheme is case-insensitive (RFC 7235 §2.1). A Bearer header whose token is empty or not a b64token
    yields the empty string, which the validator rejects as ``invalid_token``.
    """
    value = raw.decode("latin-1").strip()
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    if not _B64TOKEN.fullmatch(credentials):
        return ""
    return credentials
