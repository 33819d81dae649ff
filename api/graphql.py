"""The /graphql endpoint: strawberry's ASGI view with our typed context and orjson responses."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

import orjson
from graphql import GraphQLError
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from api.i18n import language_of, translated_errors
from api.media import GRAPHQL_RESPONSE, JSON, response_media_type
from api.metrics import RequestMetrics
from api.persisted import PersistedQueries, Refusal
from auth.policy import Audience, Rows
from auth.tokens import InvalidToken, Principal, TokenValidator
from schema.audiences import MAX_COMPILED, AudienceSchemas
from schema.compiled import CompiledReads
from schema.context import Context
from schema.limits import RequestLimits
from schema.loaders import Loaders
from schema.rows import RowRules
from services import audit as audit_service

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
from services.receipts import ReceiptKey
from store.audit import AuditWriter
from store.db import bureau_today
from store.pii import PiiCipher
from store.read_pool import ReadPool
from store.replicas import Reads, ReplicaSet
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
        allow_get: bool = True,
        receipts: ReceiptKey | None = None,
        replicas: ReplicaSet | None = None,
    ) -> None:
        # The GraphiQL page is the app's own (api/graphiql.py), served before a request gets here.
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=allow_get)
        self.audience = audience
        self.engine = engine
        self.pii = pii
        self.receipts = receipts
        self.replicas = replicas
        self.graphql_schema = schema._schema  # the audience's graphql-core schema, for compiled reads

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = request.scope.get("principal")
        if not isinstance(principal, Principal):
            # The auth middleware lets nothing without a token get here; should it, an anonymous principal
            # holds no scope and reads nothing.
            principal = ANONYMOUS
        # A token may carry scopes its audience does not grant (an external issuer decides what it puts in);
        # every check below the schema sees only the intersection, as the compiled schema does.
        principal = dataclasses.replace(principal, scopes=principal.scopes & self.audience.scopes)
        db = RequestDb(self.engine, self.replicas)
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
            language=language_of(request.headers.get("accept-language")),
        )
        request.scope["state"]["context"] = context
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The request boundary: the operation has run, its response is not out yet. The transaction commits
        here together with the audit entry; when that fails, the response is the error, not the data."""
        context = request.scope["state"].get("context")
        if isinstance(context, Context):
            request.scope["state"]["graphql_labels"] = (context.operation_name, context.audience.name)
            try:
                await audit_service.close(
                    context.db, context.audit, writer=audit_service.process_writer(request.app.state)
                )
            except Exception as exc:  # an outage or a defect: the schema codes (503) or masks it, and logs it
                error = GraphQLError(str(exc), original_error=exc)
                self.schema.process_errors([error], _boundary_context(self.schema, context))
                result = ExecutionResult(data=None, errors=[error])
        processed = await super().process_result(request, result)
        if isinstance(context, Context):
            _graphql_response_status(context.response, result, processed)
        if "errors" in processed:
            # After the audit entry, which reads the refusals in their English wording (schema/audit.py).
            translated_errors(processed["errors"], language_of(request.headers.get("accept-language")))
        return processed

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept", "").encode("latin-1")).decode()
        return sub_response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type and sub_response.media_type != response.media_type:
            response.headers["content-type"] = sub_response.media_type
        return response

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


def _graphql_response_status(response: Any, result: ExecutionResult, processed: GraphQLHTTPResponse) -> None:
    """With application/graphql-response+json, a request that failed before execution (no data, and no error of
    a field: it did not parse or validate, its variables did not coerce, a limit refused it) answers 4xx or 5xx
    without ``data``; one that executed answers 200 whatever its errors (api/media.py)."""
    if not isinstance(response, Response) or response.media_type != GRAPHQL_RESPONSE.decode():
        return
    if result.data is not None or not result.errors or any(e.path is not None for e in result.errors):
        return
    processed.pop("data", None)
    if response.status_code:
        return  # 503 for an outage (schema/build.py) stays
    internal = any((e.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR" for e in result.errors)
    response.status_code = 500 if internal else 400


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


def _carry_query(scope: Any, params: dict[str, Any], replay: list[Any]) -> list[Any]:
    """The request made to carry the stored query to the view: a POST's body, a GET's query string."""
    if scope.get("method") == "GET":
        pairs = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in params.items()}
        scope["query_string"] = urlencode(pairs).encode("latin-1")
        return replay
    body = orjson.dumps(params)
    scope["headers"] = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
    scope["headers"].append((b"content-length", str(len(body)).encode()))
    return [{"type": "http.request", "body": body, "more_body": False}]


def has_control_characters(text: str) -> bool:
    """NUL and the other C0 controls (and DEL): nothing a purpose needs, and PostgreSQL text refuses NUL."""
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


# Set in a request's scope state when its compiled plan ran and left the request to the general path.
_COMPILED_DECLINED = "compiled_declined"


def _error_response(
    status: int, message: str, headers: dict[bytes, bytes], media_type: bytes = JSON, **extensions: object
) -> JSONResponse:
    errors = translated_errors(
        [{"message": message, "extensions": extensions}], language_of(headers.get(b"accept-language"))
    )
    return JSONResponse({"errors": errors}, status_code=status, media_type=media_type.decode())


def _refusal_response(refusal: Refusal, headers: dict[bytes, bytes], media_type: bytes) -> JSONResponse:
    status = refusal.status
    if status == 200 and media_type == GRAPHQL_RESPONSE:
        status = 404  # a body without data is never a 2xx with this media type (api/persisted.py)
    response = _error_response(status, refusal.message, headers, media_type, **refusal.extensions)
    response.raw_headers.extend(refusal.headers)
    return response


def _query_params(scope: Any) -> dict[str, Any] | None:
    """A GET request's parameters, ``variables`` and ``extensions`` decoded from JSON where they are JSON."""
    if scope.get("method") != "GET" or not scope.get("query_string"):
        return None
    params: dict[str, Any] = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    for name in ("variables", "extensions"):
        if params.get(name):
            with contextlib.suppress(orjson.JSONDecodeError):  # not JSON: the view refuses it
                params[name] = orjson.loads(params[name])
    return params


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
        validator: TokenValidator,
        connection_init_timeout: float = 10.0,
        max_body_bytes: int = 1024 * 1024,
        allow_get: bool = True,
        compiled_pool: ReadPool | None = None,
        replicas: ReplicaSet | None = None,
        audit_writer: AuditWriter | None = None,
        limits: RequestLimits = RequestLimits(),  # noqa: B008 - a frozen dataclass
        receipts: ReceiptKey | None = None,
        metrics: RequestMetrics | None = None,
        trusted_documents: bool = False,
        tracer: TracerProvider | None = None,
    ) -> None:
        self.schemas = schemas
        # The compiled statement runs on asyncpg's own connections, which the SQLAlchemy instrumentation does not
        # see: its span is opened here (None: tracing off, nothing to do).
        self.compiled_tracer = tracer.get_tracer("hrss_credit.compiled") if tracer is not None else None
        self.receipts = receipts
        self.metrics = metrics
        self.persisted = PersistedQueries(
            engine, trusted=trusted_documents, writer=audit_writer, max_tokens=limits.max_tokens
        )
        # An asyncpg pool for compiled reads (schema/compiled.py); None: every request takes the resolvers.
        self.compiled_pool = compiled_pool
        # Hot standbys for what only reads (store.replicas); None: every read goes to the primary.
        self.replicas = replicas
        self.compiled_reads = Reads(compiled_pool, replicas) if compiled_pool is not None else None
        self.audit_writer = audit_writer
        self.compiled = CompiledReads(limits)
        self.max_body_bytes = max_body_bytes
        self.allow_get = allow_get
        self.validator = validator
        self.connection_init_timeout = connection_init_timeout
        self.engine = engine
        self.pii = pii
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
                allow_get=self.allow_get,
                receipts=self.receipts,
                replicas=self.replicas,
            )
            self._views[key] = view
        return view

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        # ASGI headers are a list of pairs: looked up once as a mapping for the checks below.
        headers = dict(scope.get("headers") or [])
        media_type = response_media_type(headers.get(b"accept", b""))
        body, parsed, refusal = await self._checked_body(scope, headers, receive, media_type)
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
            await _error_response(
                403, "this client has no audience in the policy", headers, media_type, code="FORBIDDEN"
            )(scope, replaying_receive, send)
            return
        view = self.view_for(audience, principal.scopes)
        # For the request metrics (api/metrics.py), until the operation's own name is known (process_result).
        scope["state"]["graphql_labels"] = (parsed.get("operationName") if parsed else None, audience.name)
        request_id = scope.get("state", {}).get("request_id")
        params = parsed if parsed is not None else _query_params(scope)
        if params is not None and self.persisted.applies(params):
            resolved = await self.persisted.resolve(audience.name, params, view.graphql_schema)
            if resolved.refusal is not None:
                purpose = unquote(headers.get(b"x-purpose", b"").decode("latin-1")).strip()[:200] or None
                await self.persisted.audit_refusal(
                    resolved.refusal, actor=principal.subject, audience=audience.name,
                    operation=params.get("operationName"), request_id=request_id, purpose=purpose,
                )  # fmt: skip
                await _refusal_response(resolved.refusal, headers, media_type)(scope, replaying_receive, send)
                return
            if resolved.changed and resolved.query is not None:
                params = {**params, "query": resolved.query}
                replay = _carry_query(scope, params, replay)
                parsed = params if parsed is not None else None
        if parsed is not None and self.compiled_pool is not None:
            purpose_header = headers.get(b"x-purpose", b"")
            compiled = await self.compiled_answer(view, principal, request_id, purpose_header, parsed, scope["state"])
            if compiled is not None:
                answer, operation = compiled
                scope["state"]["graphql_labels"] = (operation, audience.name)
                # The finished body as two ASGI messages: a Response object and its header handling would cost
                # more than the statement that built the body.
                length = str(len(answer)).encode()
                start = [(b"content-type", media_type), (b"content-length", length)]
                await send({"type": "http.response.start", "status": 200, "headers": start})
                await send({"type": "http.response.body", "body": answer})
                return
        await view(scope, replaying_receive, send)

    async def _checked_body(
        self, scope: Any, headers: dict[bytes, bytes], receive: Any, media_type: bytes
    ) -> tuple[bytes, dict[str, Any] | None, JSONResponse | None]:
        """The body and its JSON (None: not a JSON POST), or the response that refuses the request: a purpose that
        is not printable text, a body over the limit, a JSON body that cannot be a GraphQL request."""
        purpose = headers.get(b"x-purpose")
        if purpose is not None and has_control_characters(unquote(purpose.decode("latin-1"))):
            message = "X-Purpose must be printable text (percent-encoded UTF-8)"
            return b"", None, _error_response(400, message, headers, media_type, code="BAD_REQUEST", field="X-Purpose")
        body = await self._bounded_body(scope, headers, receive)
        if body is None:
            message = f"the request is larger than the limit of {self.max_body_bytes} bytes"
            limit = self.max_body_bytes
            return b"", None, _error_response(413, message, headers, media_type, code="PAYLOAD_TOO_LARGE", limit=limit)
        parsed, refusal = _read_body(scope, headers, body)
        if refusal is not None:
            return b"", None, _error_response(400, refusal, headers, media_type, code="BAD_REQUEST")
        return body, parsed, None

    async def compiled_answer(
        self,
        view: GraphQLApp,
        principal: Principal,
        request_id: str | None,
        purpose_header: bytes,
        request: dict[str, Any],
        state: dict[str, Any],
    ) -> tuple[bytes, str] | None:
        """The answer of a compiled plan (schema/compiled.py) and the name of its operation, or None to take the
        general path. ``state`` is the request's scope state: a plan that ran and declined (an unknown subject,
        one waiting to be recomputed) is not run again for the same request behind the lane."""
        if self.compiled_reads is None or self.audit_writer is None or state.get(_COMPILED_DECLINED):
            return None
        query = request.get("query")
        if request.get("extensions") or self.persisted.trusted:
            # A persisted query, or trusted documents only: answered here when this process knows the document.
            query = self.persisted.cached_query(view.audience.name, request)
        operation = request.get("operationName")
        variables = request.get("variables")
        if not isinstance(query, str) or not isinstance(operation, str | None):
            return None
        if variables is None:
            variables = {}
        elif not isinstance(variables, dict):
            return None
        plan = self.compiled.plan(view.graphql_schema, query, operation)
        if plan is None or not plan.affordable(variables, self.compiled.limits):
            return None
        if self.metrics is not None:
            self.metrics.know(plan.operation)
        audience = view.audience
        purpose = unquote(purpose_header.decode("latin-1")).strip()
        run = plan.run(
            self.compiled_reads,
            self.audit_writer,
            variables=variables,
            principal=dataclasses.replace(principal, scopes=principal.scopes & audience.scopes),
            audience=audience,
            today=bureau_today(),
            request_id=request_id,
            purpose=purpose[:200] if purpose else None,
        )
        if self.compiled_tracer is None:
            answer = await run
        else:
            # Named after the plan, never its statement's values: a span carries no subject data.
            attributes = {"db.system": "postgresql", "db.operation": "SELECT", "hrss.plan": plan.operation}
            with self.compiled_tracer.start_as_current_span(
                "SELECT compiled", kind=SpanKind.CLIENT, attributes=attributes
            ):
                answer = await run
        if answer is None:
            state[_COMPILED_DECLINED] = True
            return None
        return answer, plan.operation

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

        view = self.view_for(audience, principal.scopes)
        if self.persisted.trusted:
            trusted_receive = self._trusted_subscribes(view, principal, replaying_receive, accepted_send)
            await view(scope, trusted_receive, accepted_send)
            return
        await view(scope, replaying_receive, accepted_send)

    def _trusted_subscribes(self, view: GraphQLApp, principal: Principal, receive: Any, send: Any) -> Any:
        """With trusted documents only, each ``subscribe`` message runs only a document trusted for the audience
        (sent in full or by hash), as over HTTP; any other is answered with its ``error`` message and audited."""
        audience = view.audience.name

        async def checked_receive() -> Any:
            while True:
                message = await receive()
                raw = (
                    message.get("text") or message.get("bytes") if message.get("type") == "websocket.receive" else None
                )
                try:
                    data: Any = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return message  # the view closes the socket on it
                payload = data.get("payload") if isinstance(data, dict) and data.get("type") == "subscribe" else None
                if not isinstance(payload, dict):
                    return message
                resolved = await self.persisted.resolve(audience, payload, view.graphql_schema)
                if resolved.refusal is None:
                    if resolved.changed:
                        data["payload"] = {**payload, "query": resolved.query}
                        return {"type": "websocket.receive", "text": orjson.dumps(data).decode()}
                    return message
                refusal = resolved.refusal
                await self.persisted.audit_refusal(
                    refusal, actor=principal.subject, audience=audience, operation=payload.get("operationName"),
                    request_id=None, purpose=None,
                )  # fmt: skip
                error = [{"message": refusal.message, "extensions": refusal.extensions}]
                await send(
                    {
                        "type": "websocket.send",
                        "text": orjson.dumps({"id": data.get("id"), "type": "error", "payload": error}).decode(),
                    }
                )

        return checked_receive

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
