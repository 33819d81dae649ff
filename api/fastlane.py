"""The compiled-read lane: a restriction check or screen answered in front of the middleware chain.

The hot reads (schema/compiled.py) cost one prepared statement; the general chain around them (CORS, security
headers, request context, bearer authentication, routing, strawberry's view) cost more than the statement itself.
This lane does for a ``POST /graphql`` exactly what that chain does for a compiled answer, in one pass over the
request: the request id, the bearer token (RFC 6750 §2.1, the same validator and cache), the body limit, the
audience, the compiled plan, the security headers, and the access log line. Anything it does not answer itself
(a request with an ``Origin``, which CORS must see; no token or a bad one, whose challenge the auth middleware
writes; a body the router refuses; a document without a plan) goes on to the chain unchanged, the body replayed
and the request id kept, so every refusal and error still comes from one place.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.graphql import GraphQLRouter, has_control_characters
from api.media import response_media_type
from api.metrics import COMPILED
from auth.middleware import bearer_token
from auth.tokens import InvalidToken, Principal, TokenValidator

log = structlog.get_logger("hrss_credit.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(slots=True)
class _Headers:
    """What the lane reads of a request's headers, in one pass over them."""

    authorization: list[bytes] = field(default_factory=list)
    content_type: bytes = b""
    request_id: bytes = b""
    purpose: bytes = b""
    accept: bytes = b""
    origin: bool = False

    @classmethod
    def of(cls, scope: Scope) -> _Headers:
        found = cls()
        for name, value in scope["headers"]:
            if name == b"authorization":
                found.authorization.append(value)
            elif name == b"content-type":
                found.content_type = value
            elif name == b"x-request-id":
                found.request_id = value
            elif name == b"x-purpose":
                found.purpose = value
            elif name == b"accept":
                found.accept = value
            elif name == b"origin":
                found.origin = True
        return found

    def token(self) -> str | None:
        """The bearer token, when the request is one the lane may take: JSON, one bearer credential, a printable
        purpose. None sends it on to the chain, which answers or refuses it."""
        if len(self.authorization) != 1 or self.content_type.split(b";")[0].strip().lower() != b"application/json":
            return None
        if self.purpose and has_control_characters(unquote(self.purpose.decode("latin-1"))):
            return None
        return bearer_token(self.authorization[0]) or None


class CompiledReadLane:
    def __init__(self, app: ASGIApp, *, validator: TokenValidator) -> None:
        self.app = app
        self.validator = validator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router: GraphQLRouter | None = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/graphql":
            router = getattr(scope["app"].state, "graphql", None)
        headers = _Headers.of(scope) if router is not None and router.compiled_pool is not None else None
        if router is None or headers is None or headers.origin:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = headers.request_id.decode("latin-1")
        if not _SAFE_ID.match(request_id):
            # The chain's request context takes this id over when the request goes on to it.
            request_id = os.urandom(16).hex()
            scope["headers"] = [*scope["headers"], (b"x-request-id", request_id.encode())]
        token = headers.token()
        try:
            principal = self.validator.validate(token) if token else None
        except InvalidToken:
            principal = None
        if principal is None:
            await self.app(scope, receive, send)
            return
        chunks, complete = await _read_body(receive, router.max_body_bytes)
        if complete:
            state = scope.setdefault("state", {})
            answer, operation, audience = await _answer(
                router, principal, request_id, headers.purpose, b"".join(chunks), state
            )
            if answer is not None:
                await _send_answer(send, answer, request_id, response_media_type(headers.accept))
                seconds = time.perf_counter() - started
                if router.metrics is not None:
                    router.metrics.observe(operation, audience, 200, seconds, COMPILED)
                log.info(
                    "request",
                    request_id=request_id,
                    method="POST",
                    path="/graphql",
                    status=200,
                    duration_ms=round(seconds * 1000, 2),
                    client_id=principal.client_id,
                )
                return
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": not complete}]

        async def replaying_receive() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replaying_receive, send)


async def _answer(
    router: GraphQLRouter, principal: Principal, request_id: str, purpose: bytes, body: bytes, state: dict[str, Any]
) -> tuple[bytes | None, str | None, str]:
    """The compiled answer (None: the chain answers), with the operation name and audience it was for."""
    audience = router.schemas.policy.audience_of_client(principal.client_id)
    if audience is None:
        return None, None, ""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, ""
    if not isinstance(parsed, dict):
        return None, None, ""
    view = router.view_for(audience, principal.scopes)
    compiled = await router.compiled_answer(view, principal, request_id, purpose, parsed, state)
    return (None, None, "") if compiled is None else (compiled[0], compiled[1], audience.name)


async def _send_answer(send: Send, answer: bytes, request_id: str, media_type: bytes) -> None:
    """The answer with the headers the chain would add: security headers (api/middleware.py) and the request id."""
    headers = [
        (b"content-type", media_type),
        (b"content-length", str(len(answer)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


async def _read_body(receive: Receive, limit: int) -> tuple[list[bytes], bool]:
    """The body's chunks, and whether that is all of it within ``limit`` (False: the rest is still to receive,
    or the limit was passed; the chain then answers with its own refusal)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, False
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            return chunks, False
        if not message.get("more_body", False):
            return chunks, True
