"""The Starlette application factory."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import structlog
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from api import graphiql
from api.fastlane import CompiledReadLane
from api.graphql import GraphQLRouter
from api.i18n import language_of
from api.login_state import DatabaseCodeStore, KeyLoader
from api.metrics import GraphQLMetricsMiddleware, PoolCollector, RequestMetrics, metrics_endpoint
from api.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from api.portal import portal_clients, portal_routes
from api.settings import DEMO_CLIENT_SECRET_PREFIX, Settings
from api.throttle import DatabaseThrottle
from api.tracing import TracingMiddleware, configured_provider, trace_engine
from auth.accounts import AccountStore, EmployerAccount, demo_employer_accounts
from auth.clients import DEMO_EMPLOYER_REDIRECT_URIS, Client, demo_clients, demo_employer_client
from auth.middleware import BearerAuthMiddleware
from auth.policy import Policy, load_policy
from auth.remote import IssuerDispatch, RemoteIssuer
from auth.server import BuiltinAuthorizationServer
from auth.shared_keys import SharedKeys
from auth.tokens import TokenValidator
from domain.workdays import WorkCalendar
from schema.audiences import AudienceSchemas
from schema.build import build_schema
from schema.messages import translate
from services.receipts import ReceiptKey
from store import audit, holidays, migrations
from store.db import BUREAU_TIME_ZONE, asyncpg_connect_kwargs, create_engine
from store.demo import named_subjects
from store.notify import RestrictionFeed
from store.pending import Drainer
from store.pii import PiiCipher
from store.read_pool import ReadPool
from store.replicas import Replica, ReplicaSet, display_name


@functools.cache
def _demo_employer_accounts() -> tuple[EmployerAccount, ...]:
    """Hashed once per process: scrypt is slow on purpose."""
    return demo_employer_accounts([(s.uscc, s.name) for s in named_subjects() if s.uscc])


def authorization_server(
    settings: Settings,
    keys: SharedKeys,
    *,
    throttle: DatabaseThrottle | None = None,
    codes: DatabaseCodeStore | None = None,
    clock: Callable[[], float] = time.time,
) -> BuiltinAuthorizationServer:
    """The built-in server: the employer portal's own client (every environment), the demo clients of policy.md
    and, for employers, demo accounts (dev only) that sign in with authorization code + PKCE; a production
    deployment signs employers in at its own IdP. Its codes and keys are shared by every API process
    (api.login_state)."""
    clients: tuple[Client, ...] = portal_clients(settings.issuer)
    accounts = None
    if settings.demo_clients:
        clients += (*demo_clients(DEMO_CLIENT_SECRET_PREFIX), demo_employer_client(DEMO_CLIENT_SECRET_PREFIX))
        accounts = AccountStore(_demo_employer_accounts())
    return BuiltinAuthorizationServer(
        issuer=settings.issuer,
        audience=settings.token_audience,
        keys=keys,
        clients=clients,
        token_ttl_seconds=settings.token_ttl_seconds,
        accounts=accounts,
        throttle=throttle,
        codes=codes,
        clock=clock,
    )


async def load_work_calendar(engine: AsyncEngine) -> WorkCalendar | None:
    """The official calendar plus the holiday table the bureau loaded (at start-up), or None when the database
    cannot say yet (not migrated, not reachable): /readyz then says so, and loads it once it can."""
    try:
        async with engine.connect() as conn:
            return WorkCalendar(await holidays.load_table(conn))
    except (DBAPIError, OSError) as exc:
        structlog.get_logger("hrss_credit.app").warning("holiday table not loaded", error=type(exc).__name__)
        return None


def cors_origins(settings: Settings) -> list[str]:
    """The configured origins; unset: the demo clients' browser origins in dev, none in production."""
    if settings.cors_origins is not None:
        return list(settings.cors_origins)
    if not (settings.dev_mode and settings.demo_clients):
        return []
    origins = {"{0.scheme}://{0.netloc}".format(urlsplit(uri)) for uri in DEMO_EMPLOYER_REDIRECT_URIS}
    return sorted(origins - {settings.issuer})


def _in_language(message: str, scope: Scope) -> str:
    """A refusal's message in the language the request's Accept-Language asks for (api/i18n.py)."""
    accept = next((value for name, value in scope.get("headers") or () if name == b"accept-language"), None)
    return translate(message, language_of(accept))


@dataclass(frozen=True)
class _Parts:
    """What the app is made of before it serves: built once, at start-up, without the database."""

    settings: Settings
    database_url: str
    keys: SharedKeys
    key_loader: KeyLoader
    throttle: DatabaseThrottle
    codes: DatabaseCodeStore
    validator: IssuerDispatch
    remote: RemoteIssuer | None
    schemas: AudienceSchemas
    pii: PiiCipher
    tracer: TracerProvider | None


def token_validators(settings: Settings, keys: SharedKeys) -> tuple[IssuerDispatch, RemoteIssuer | None]:
    """The built-in issuer's validator and, when configured, the external issuer's, behind one dispatch."""
    # The shared keys are loaded in the lifespan: the validator asks for the published set at each token.
    builtin = TokenValidator(
        issuer=settings.issuer, audience=settings.token_audience, jwks=keys.public_jwks, algorithms=(keys.alg,)
    )
    validators: dict[str, TokenValidator] = {settings.issuer: builtin}
    remote: RemoteIssuer | None = None
    if settings.external_issuer:
        remote = RemoteIssuer(settings.external_issuer)
        validators[settings.external_issuer] = remote.validator(
            audience=settings.token_audience, algorithms=settings.external_algorithms
        )
    return IssuerDispatch(validators), remote


def create_app(
    settings: Settings,
    *,
    database_url: str,
    policy: Policy | None = None,
    tracer: TracerProvider | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The app; ``tracer``: the provider its spans go to (default: the configured one, api/tracing.py, or none);
    ``clock`` times the authorization codes and login forms of the built-in server (tests)."""
    key_loader = KeyLoader(settings)
    keys = SharedKeys(key_loader)
    codes = DatabaseCodeStore(clock=clock)
    tracer = tracer or configured_provider(settings)
    throttle = DatabaseThrottle(
        limit=settings.auth_failure_limit,
        address_limit=settings.auth_failure_address_limit,
        window_seconds=settings.auth_failure_window_seconds,
    )
    validator, remote = token_validators(settings, keys)
    full = build_schema(
        settings.request_limits(), hide_suggestions=not settings.dev_mode, max_errors=settings.max_validation_errors
    )
    parts = _Parts(
        settings, database_url, keys, key_loader, throttle, codes, validator, remote,
        AudienceSchemas(full, policy or load_policy()), settings.pii_cipher(), tracer,
    )  # fmt: skip
    auth_server = authorization_server(settings, keys, throttle=throttle, codes=codes, clock=clock)
    endpoint = _GraphQLEndpoint(serve_graphiql=settings.dev_mode)
    routes: list[BaseRoute] = [
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", endpoint),
        Route("/healthz", _healthz),
        Route("/readyz", _readyz),
        Route("/metrics", metrics_endpoint),
        *auth_server.routes(),
        *portal_routes(),
    ]
    if settings.dev_mode:
        routes.append(Mount(graphiql.STATIC_PATH, app=graphiql.static_files(), name="graphiql"))
    app = Starlette(
        routes=routes,
        middleware=_middleware(settings, validator, tracer),
        lifespan=functools.partial(_lifespan, parts=parts),
    )
    app.state.settings = settings
    app.state.auth_server = auth_server
    app.state.signing_keys = keys
    app.state.schemas = parts.schemas
    app.state.head_revision = migrations.head_revision()
    app.state.metrics = RequestMetrics(settings.metrics_operations)
    app.state.metrics.registry.register(PoolCollector(app.state))
    return app


def _middleware(settings: Settings, validator: IssuerDispatch, tracer: TracerProvider | None) -> list[Middleware]:
    serve_graphiql = settings.dev_mode

    def requires_token(scope: Scope) -> bool:
        if not scope.get("path", "").startswith("/graphql"):
            return False
        return not (serve_graphiql and graphiql.is_page_request(scope))

    # Tracing, when on, wraps everything, the compiled lane included; off, it is not there at all.
    traced = [Middleware(TracingMiddleware, provider=tracer)] if tracer is not None else []
    return [
        *traced,
        # A compiled read is answered here, before the chain; whatever it does not answer goes on below.
        Middleware(CompiledReadLane, validator=validator),
        # Counts what the lane passes on; the lane counts what it answers itself.
        Middleware(GraphQLMetricsMiddleware),
        # Outermost of the chain, so that a preflight is answered before any token is asked for.
        Middleware(
            CORSMiddleware,
            allow_origins=cors_origins(settings),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Purpose", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
            allow_credentials=True,
            max_age=600,
        ),
        Middleware(SecurityHeadersMiddleware),
        Middleware(RequestContextMiddleware),
        Middleware(BearerAuthMiddleware, validator=validator, requires_token=requires_token, translate=_in_language),
    ]


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette, *, parts: _Parts) -> AsyncIterator[None]:
    """The database and everything that lives as long as the process: opened in order, closed in reverse."""
    settings, database_url = parts.settings, parts.database_url
    engine = create_engine(
        database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        statement_timeout_ms=settings.statement_timeout_ms,
    )
    app.state.engine = engine
    if parts.tracer is not None:
        trace_engine(engine, parts.tracer)
    parts.throttle.bind(engine)
    parts.codes.bind(engine)
    parts.key_loader.bind(engine)
    await load_shared_keys(parts.keys)
    loaded = await load_work_calendar(engine)
    app.state.work_calendar = loaded or WorkCalendar()
    app.state.calendar_loaded = loaded is not None
    if parts.remote is not None:
        await _discover(parts.remote)
    async with contextlib.AsyncExitStack() as stack:
        if parts.tracer is not None:
            stack.callback(parts.tracer.shutdown)  # last: the spans of the shutdown itself are flushed
        stack.push_async_callback(engine.dispose)
        stack.callback(parts.throttle.bind, None)
        stack.callback(parts.codes.bind, None)
        stack.callback(parts.key_loader.bind, None)
        app.state.restriction_feed = RestrictionFeed(database_url)
        stack.push_async_callback(app.state.restriction_feed.stop)
        # Recomputes what a bulk import queued (store.pending).
        drainer = Drainer(engine, database_url, interval=settings.recompute_drain_seconds)
        if settings.recompute_drain_seconds > 0:
            drainer.start()
        stack.push_async_callback(drainer.stop)
        app.state.audit_writer = await _audit(stack, engine, parts)
        compiled_pool = await compiled_reads_pool(database_url, settings) if settings.compiled_reads else None
        if compiled_pool is not None:
            stack.push_async_callback(compiled_pool.close)
        app.state.replicas = await read_replicas(stack, settings, compiled_pool, database_url)
        app.state.graphql = GraphQLRouter(
            parts.schemas,
            engine=engine,
            pii=parts.pii,
            validator=parts.validator,
            max_body_bytes=settings.max_body_bytes,
            allow_get=settings.accepts_get_queries,
            compiled_pool=compiled_pool,
            replicas=app.state.replicas,
            audit_writer=app.state.audit_writer,
            limits=settings.request_limits(),
            # Receipts are signed with the key of the JWKS the API publishes, in the issuer's name.
            receipts=ReceiptKey(parts.keys, settings.issuer),
            metrics=app.state.metrics,
            trusted_documents=settings.trusted_documents,
            tracer=parts.tracer,
        )
        yield


async def load_shared_keys(keys: SharedKeys) -> bool:
    """Load the keys every process shares, or say why not and go on: until they are loaded /readyz says so, the
    token and authorization endpoints answer 503 and every built-in token is refused, and each of them tries
    again. The error is named by its type only: a message could quote a key."""
    try:
        await keys.load()
    except (DBAPIError, OSError) as exc:
        structlog.get_logger("hrss_credit.auth").warning("signing keys not loaded", error=type(exc).__name__)
        return False
    return True


async def _discover(remote: RemoteIssuer) -> None:
    """Discover the external issuer now, off the event loop, so no request waits for it (a failure is logged and
    retried on the first token, at most once a minute)."""
    try:
        await asyncio.to_thread(remote.jwks)
    except Exception as exc:  # any discovery failure: log it, keep serving built-in tokens
        structlog.get_logger("hrss_credit.auth").warning("external issuer unavailable", error=str(exc))


async def _audit(stack: contextlib.AsyncExitStack, engine: AsyncEngine, parts: _Parts) -> audit.AuditWriter:
    """Reads hand their audit entries to the group writer; one process at a time seals the chain and signs its
    checkpoints (store.audit), on a connection of its own. Closed writer first, then the sealer."""
    sealer_engine = create_engine(parts.database_url, pool_size=1, max_overflow=0, application_name="hrss-audit-sealer")
    stack.push_async_callback(sealer_engine.dispose)
    # Without the keys (the database was down at start-up) this process chains entries but signs no
    # checkpoint until it restarts; the other processes sign theirs.
    signer = parts.keys if parts.keys.loaded else None
    sealer = audit.Sealer(sealer_engine, signer=signer, issuer=parts.settings.issuer)
    writer = audit.AuditWriter(engine, on_durable=sealer.wake)
    sealer.start()
    stack.push_async_callback(sealer.stop)
    stack.push_async_callback(writer.close)
    return writer


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
    state = request.app.state
    head = state.head_revision
    try:
        async with state.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        current = await migrations.current_revision(state.engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "migrations": {"current": current, "head": head}}, status_code=503
        )
    if not await load_shared_keys(state.signing_keys):
        return JSONResponse({"status": "unavailable", "signing_keys": "not loaded"}, status_code=503)
    if not state.calendar_loaded and (loaded := await load_work_calendar(state.engine)):
        state.work_calendar = loaded
        state.calendar_loaded = True
    return JSONResponse({"status": "ready", "migrations": {"current": current, "head": head}})


class _GraphQLEndpoint:
    """Forwards to the GraphQL view that the lifespan built around the engine; in dev mode a browser's GET gets
    the GraphiQL page instead (api/graphiql.py)."""

    def __init__(self, *, serve_graphiql: bool) -> None:
        self.serve_graphiql = serve_graphiql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.serve_graphiql and graphiql.is_page_request(scope):
            await graphiql.page_response()(scope, receive, send)
            return
        await scope["app"].state.graphql(scope, receive, send)


async def compiled_reads_pool(
    database_url: str, settings: Settings, *, application_name: str = "hrss-credit compiled reads", max_size: int = 0
) -> ReadPool:
    """The compiled reads' own pool of asyncpg connections (store.read_pool): its connections keep their prepared
    statements, and a read costs no SQLAlchemy connection checkout. It connects lazily, so the app starts during
    an outage."""
    import asyncpg  # type: ignore[import-untyped]

    kwargs = asyncpg_connect_kwargs(database_url)
    server_settings = {
        "statement_timeout": str(settings.statement_timeout_ms),
        "application_name": application_name,
        "TimeZone": BUREAU_TIME_ZONE,
    }

    def connect() -> Any:
        return asyncpg.connect(**kwargs, server_settings=server_settings)

    return ReadPool(connect, max_size=max_size or settings.pool_size)


async def read_replicas(
    stack: contextlib.AsyncExitStack, settings: Settings, primary: ReadPool | None, database_url: str
) -> ReplicaSet | None:
    """The hot standbys of HRSS_READ_DATABASE_URLS and their monitor (store.replicas), or None without any. Each
    has a pool for the compiled reads and an engine for the resolvers' read-only requests; the monitor samples the
    primary through the compiled reads' pool (or a one-connection pool of its own when compiled reads are off)."""
    if not settings.read_database_urls:
        return None
    if primary is None:
        primary = await compiled_reads_pool(database_url, settings, application_name="hrss-replica-monitor", max_size=1)
        stack.push_async_callback(primary.close)
    replicas = []
    for url in settings.read_database_urls:
        pool = await compiled_reads_pool(url, settings, application_name="hrss-credit replica reads")
        stack.push_async_callback(pool.close)
        engine = create_engine(
            url,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            statement_timeout_ms=settings.statement_timeout_ms,
            application_name="hrss-credit replica",
        )
        stack.push_async_callback(engine.dispose)
        replicas.append(Replica(name=display_name(url), pool=pool, engine=engine))
    replica_set = ReplicaSet(
        replicas,
        primary=primary,
        max_lag_seconds=settings.replica_max_lag_seconds,
        check_seconds=settings.replica_check_seconds,
    )
    # Checked once before the first request, so that a healthy replica serves from the start; an unreachable one
    # only delays start-up by the check's timeout, and the monitor keeps trying it.
    await replica_set.check()
    replica_set.start()
    stack.push_async_callback(replica_set.stop)
    return replica_set
