"""The /graphql endpoint: strawberry's ASGI view with our typed context and orjson responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from auth.tokens import Principal
from schema.context import Context
from schema.loaders import Loaders
from store.pii import PiiCipher
from store.session import RequestDb

BUREAU_TZ = ZoneInfo("Asia/Shanghai")
ANONYMOUS = Principal(client_id="anonymous", subject="anonymous", scopes=frozenset(), claims={})


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, schema: Any, *, engine: AsyncEngine, pii: PiiCipher, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None, allow_queries_via_get=True)
        self.engine = engine
        self.pii = pii

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = request.scope.get("principal")
        if not isinstance(principal, Principal):
            # Only the GraphiQL page itself is served without a token (the auth middleware sees to that); it
            # reads nothing, and an anonymous principal holds no scope.
            principal = ANONYMOUS
        db = RequestDb(self.engine)
        request.scope["state"]["request_db"] = db
        # X-Purpose (the purpose of a read, for the audit log) is percent-encoded UTF-8: headers are Latin-1.
        purpose = unquote(request.headers.get("x-purpose", "")).strip()
        return Context(
            request=request,
            response=response,
            principal=principal,
            db=db,
            loaders=Loaders(db),
            pii=self.pii,
            today=datetime.now(BUREAU_TZ).date(),
            request_id=request.scope["state"].get("request_id"),
            purpose=purpose[:200] if purpose else None,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})
        try:
            await super().__call__(scope, receive, send)
        finally:
            # The audit extension commits and releases the connection; this is the safety net when an
            # operation failed before it could (e.g. the client went away).
            db = scope["state"].pop("request_db", None)
            if isinstance(db, RequestDb):
                await db.finish(commit=False)
