"""The /graphql endpoint: strawberry's ASGI view with our typed context and orjson responses."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from urllib.parse import unquote

import orjson
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from auth.policy import Audience, Rows
from auth.tokens import InvalidToken, Principal, TokenValidator
from schema.audiences import MAX_COMPILED, AudienceSchemas
from schema.compiled import CompiledReads
from schema.context import Context
from schema.limits import RequestLimits
from schema.loaders import Loaders
from schema.rows import RowRules
from services import audit as audit_service
from services.receipts import ReceiptKey
from store.audit import AuditWriter
from store.db import bureau_today
from store.pii import PiiCipher
from store.session import RequestDb

ANONYMOUS = Principal(client_id="anonymous", subject="anonymous", scopes=frozenset(), claims={})


ANONYMOUS_AUDIENCE = Audience(name="anonymous", scopes=frozenset(), rows=Rows.NONE, clients=frozenset())


class GraphQLApp(GraphQL[Context, None]):
    """The strawberry view of one compiled audience schema."""

    def __init__(
        self,
        schema: Any,
        *,
        audience: Audience,
        engine: AsyncEngine,
        pii: PiiCipher,
        graphiql: bool,
        allow_get: bool = True,
        receipts: ReceiptKey | None = None,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=allow_get)
        self.audience = audience
        self.engine = engine
        self.pii = pii
        self.receipts = receipts
        self.graphql_schema = schema._schema  # the audience's graphql-core schema, for compiled reads

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = request.scope.get("principal")
        if not isinstance(principal, Principal):
            # Only the GraphiQL page itself is served without a token (the auth middleware sees to that); it
            # reads nothing, and an anonymous principal holds no scope.
            principal = ANONYMOUS
        # A token may carry scopes its audience does not grant (an external issuer decides what it puts in);
        # every check below the schema sees only the intersection, as the compiled schema does.
        principal = dataclasses.replace(principal, scopes=principal.scopes & self.audience.scopes)
        db = RequestDb(self.engine)
        request.scope["state"]["request_db"] = db
        # X-Purpose (the purpose of a read, for the audit log) is percent-encoded UTF-8: headers are Latin-1.
        purpose = unquote(request.headers.get("x-purpose", "")).strip()
        today = bureau_today()
        rows = RowRules(
            rows=self.audience.rows,
            today=today,
            uscc=_claim(principal, "uscc"),
            source_unit=_claim(principal, "source_unit"),
        )
        context = Context(
            request=request,
            response=response,
            principal=principal,
            audience=self.audience,
            rows=rows,
            db=db,
            loaders=Loaders(db),
            pii=self.pii,
            today=today,
            request_id=request.scope["state"].get("request_id"),
            purpose=purpose[:200] if purpose else None,
            receipts=self.receipts,
        )
        request.scope["state"]["context"] = context
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The request boundary: the operation has run, its response is not out yet. The transaction commits
        here together with the audit entry; when that fails, the response is the error, not the data."""
        context = request.scope["state"].get("context")
        if isinstance(context, Context):
            try:
                await audit_service.close(
                    context.db, context.audit, writer=audit_service.process_writer(request.app.state)
                )
            except Exception as exc:  # an outage or a defect: the schema codes (503) or masks it, and logs it
                error = GraphQLError(str(exc), original_error=exc)
                self.schema.process_errors([error], _boundary_context(self.schema, context))
                result = ExecutionResult(data=None, errors=[error])
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})
        try:
            await super().__call__(scope, receive, send)
        finally:
            # process_result commits and releases the connection; this is the safety net when a request ended
            # before it got there (the client went away, a refusal before execution). It never commits.
            scope["state"].pop("context", None)
            db = scope["state"].pop("request_db", None)
            if isinstance(db, RequestDb):
                await db.finish(commit=False)


def _read_body(scope: Any, headers: dict[bytes, bytes], body: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON POST body as parsed, and why it cannot be a GraphQL request (not UTF-8, not JSON, nested past
    orjson's limit, not an object; strawberry would answer these with a 500). (None, None) for other requests."""
    if scope.get("method") != "POST":
        return None, None
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type != b"application/json":
        return None, None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"the body is not JSON in UTF-8: {exc}"[:200]
    if not isinstance(parsed, dict):
        return None, "the body must be a JSON object with a query"
    return parsed, None


def has_control_characters(text: str) -> bool:
    """NUL and the other C0 controls (and DEL): nothing a purpose needs, and PostgreSQL text refuses NUL."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _error_response(status: int, message: str, **extensions: object) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]}, status_code=status)


def _boundary_context(schema: Any, context: Context) -> ExecutionContext:
    """An execution context for errors raised at the boundary, so that they are coded, masked and logged like
    those of the operation (schema/build.py: an outage sets the response's 503 through it)."""
    return ExecutionContext(query=None, schema=schema, allowed_operations=[OperationType.QUERY], context=context)


def _claim(principal: Principal, name: str) -> str | None:
    value = principal.claims.get(name)
    return value if isinstance(value, str) and value else None


class GraphQLRouter:
    """Sends each request to the view of its audience's compiled schema (policy.md).

    The audience comes from the token's client (auth/policy.toml ``clients``); the schema from the scopes the
    token holds within that audience. A client the policy does not know is refused.
    """

    def __init__(
        self,
        schemas: AudienceSchemas,
        *,
        engine: AsyncEngine,
        pii: PiiCipher,
        graphiql: bool,
        validator: TokenValidator,
        connection_init_timeout: float = 10.0,
        max_body_bytes: int = 1024 * 1024,
        allow_get: bool = True,
        compiled_pool: Any = None,
        audit_writer: AuditWriter | None = None,
        limits: RequestLimits = RequestLimits(),  # noqa: B008 - a frozen dataclass
        receipts: ReceiptKey | None = None,
    ) -> None:
        self.schemas = schemas
        self.receipts = receipts
        # An asyncpg pool for compiled reads (schema/compiled.py); None: every request takes the resolvers.
        self.compiled_pool = compiled_pool
        self.audit_writer = audit_writer
        self.compiled = CompiledReads(limits)
        self.max_body_bytes = max_body_bytes
        self.allow_get = allow_get
        self.validator = validator
        self.connection_init_timeout = connection_init_timeout
        self.engine = engine
        self.pii = pii
        self.graphiql = graphiql
        self._views: dict[tuple[str, frozenset[str]], GraphQLApp] = {}

    def view_for(self, audience: Audience, scopes: frozenset[str]) -> GraphQLApp:
        """The view of the schema compiled for this audience and the scopes it holds (cached like the schemas)."""
        schema = self.schemas.get(audience, scopes)
        key = (audience.name, scopes & audience.scopes)
        view = self._views.get(key)
        if view is None or view.schema is not schema:
            if len(self._views) >= MAX_COMPILED:
                self._views.pop(next(iter(self._views)))
            view = GraphQLApp(
                schema,
                audience=audience,
                engine=self.engine,
                pii=self.pii,
                graphiql=self.graphiql,
                allow_get=self.allow_get,
                receipts=self.receipts,
            )
            self._views[key] = view
        return view

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        # ASGI headers are a list of pairs: looked up once as a mapping for the checks below.
        headers = dict(scope.get("headers") or [])
        body, parsed, refusal = await self._checked_body(scope, headers, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def replaying_receive() -> Any:
            return replay.pop(0) if replay else await receive()

        principal = scope.get("principal")
        if not isinstance(principal, Principal):
            await self.view_for(ANONYMOUS_AUDIENCE, frozenset())(scope, replaying_receive, send)
            return
        audience = self.schemas.policy.audience_of_client(principal.client_id)
        if audience is None:
            await _error_response(403, "this client has no audience in the policy", code="FORBIDDEN")(
                scope, replaying_receive, send
            )
            return
        view = self.view_for(audience, principal.scopes)
        if parsed is not None and self.compiled_pool is not None:
            request_id = scope.get("state", {}).get("request_id")
            answer = await self.compiled_answer(view, principal, request_id, headers.get(b"x-purpose", b""), parsed)
            if answer is not None:
                # The finished body as two ASGI messages: a Response object and its header handling would cost
                # more than the statement that built the body.
                length = str(len(answer)).encode()
                start = [(b"content-type", b"application/json"), (b"content-length", length)]
                await send({"type": "http.response.start", "status": 200, "headers": start})
                await send({"type": "http.response.body", "body": answer})
                return
        await view(scope, replaying_receive, send)

    async def _checked_body(
        self, scope: Any, headers: dict[bytes, bytes], receive: Any
    ) -> tuple[bytes, dict[str, Any] | None, JSONResponse | None]:
        """The body and its JSON (None: not a JSON POST), or the response that refuses the request: a purpose that
        is not printable text, a body over the limit, a JSON body that cannot be a GraphQL request."""
        purpose = headers.get(b"x-purpose")
        if purpose is not None and has_control_characters(unquote(purpose.decode("latin-1"))):
            message = "X-Purpose must be printable text (percent-encoded UTF-8)"
            return b"", None, _error_response(400, message, code="BAD_REQUEST", field="X-Purpose")
        body = await self._bounded_body(scope, headers, receive)
        if body is None:
            message = f"the request is larger than the limit of {self.max_body_bytes} bytes"
            return b"", None, _error_response(413, message, code="PAYLOAD_TOO_LARGE", limit=self.max_body_bytes)
        parsed, refusal = _read_body(scope, headers, body)
        if refusal is not None:
            return b"", None, _error_response(400, refusal, code="BAD_REQUEST")
        return body, parsed, None

    async def compiled_answer(
        self,
        view: GraphQLApp,
        principal: Principal,
        request_id: str | None,
        purpose_header: bytes,
        request: dict[str, Any],
    ) -> bytes | None:
        """The answer of a compiled plan (schema/compiled.py), or None to take the general path."""
        if self.compiled_pool is None or self.audit_writer is None:
            return None
        query = request.get("query")
        operation = request.get("operationName")
        variables = request.get("variables")
        if not isinstance(query, str) or not isinstance(operation, str | None) or request.get("extensions"):
            return None
        if variables is None:
            variables = {}
        elif not isinstance(variables, dict):
            return None
        plan = self.compiled.plan(view.graphql_schema, query, operation)
        if plan is None or not plan.affordable(variables, self.compiled.limits):
            return None
        audience = view.audience
        purpose = unquote(purpose_header.decode("latin-1")).strip()
        return await plan.run(
            self.compiled_pool,
            self.audit_writer,
            variables=variables,
            principal=dataclasses.replace(principal, scopes=principal.scopes & audience.scopes),
            audience=audience,
            today=bureau_today(),
            request_id=request_id,
            purpose=purpose[:200] if purpose else None,
        )

    async def _bounded_body(self, scope: Any, headers: dict[bytes, bytes], receive: Any) -> bytes | None:
        """The whole body, or None as soon as it (or a GET's query string) passes the limit: a large document is
        refused before anything parses it, so it cannot hold the event loop."""
        if len(scope.get("query_string") or b"") > self.max_body_bytes:
            return None
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _websocket(self, scope: Any, receive: Any, send: Any) -> None:
        """graphql-transport-ws: the token comes in ``connection_init`` (browsers cannot set headers on a
        WebSocket), so the handshake is taken here, the token checked like a bearer token, and the socket then
        handed to the view of the caller's audience with the init message replayed."""
        connect = await receive()
        if connect.get("type") != "websocket.connect":
            return
        if GRAPHQL_TRANSPORT_WS_PROTOCOL not in scope.get("subprotocols", []):
            await send({"type": "websocket.close", "code": 4406, "reason": "Subprotocol not acceptable"})
            return
        await send({"type": "websocket.accept", "subprotocol": GRAPHQL_TRANSPORT_WS_PROTOCOL})
        try:
            init = await asyncio.wait_for(receive(), timeout=self.connection_init_timeout)
        except TimeoutError:
            await send({"type": "websocket.close", "code": 4408, "reason": "Connection initialisation timeout"})
            return
        principal, refusal = self._authenticate(init)
        audience = self.schemas.policy.audience_of_client(principal.client_id) if principal else None
        if principal is None or audience is None:
            await send({"type": "websocket.close", "code": 4403, "reason": refusal or "Forbidden"})
            return
        scope["principal"] = principal
        replay = [connect, init]

        async def replaying_receive() -> Any:
            return replay.pop(0) if replay else await receive()

        async def accepted_send(message: Any) -> None:
            if message.get("type") != "websocket.accept":  # already accepted above
                await send(message)

        await self.view_for(audience, principal.scopes)(scope, replaying_receive, accepted_send)

    def _authenticate(self, message: Any) -> tuple[Principal | None, str | None]:
        if message.get("type") != "websocket.receive":
            return None, "Forbidden"
        try:
            data = orjson.loads(message.get("text") or message.get("bytes") or b"")
        except orjson.JSONDecodeError:
            return None, "Forbidden: connection_init expected"
        payload = data.get("payload") if isinstance(data, dict) and data.get("type") == "connection_init" else None
        if not isinstance(payload, dict):
            return None, "Forbidden: connection_init expected"
        raw = payload.get("Authorization") or payload.get("authorization") or payload.get("token") or ""
        token = raw[7:] if isinstance(raw, str) and raw[:7].lower() == "bearer " else raw
        try:
            return self.validator.validate(str(token)), None
        except InvalidToken as exc:
            return None, f"Forbidden: {exc.reason}"[:120]
