"""/metrics for Prometheus: GraphQL requests and their latency, the database pools, the audit chain's lag.

Labels are bounded and carry no subject data: ``operation`` is the operation's name only when it is one the
service knows (a compiled read's, or one configured in HRSS_METRICS_OPERATIONS), ``anonymous`` without a name and
``other`` for any name a client made up; ``audience`` is a policy audience (or ``anonymous``); ``status`` the
HTTP status; ``lane`` says whether the compiled lane answered (api/fastlane.py) or the general chain.

/metrics is not public: with HRSS_METRICS_TOKEN set a scraper sends it as a bearer token; without it only a
loopback client is answered (a sidecar or node agent on the same host).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services import audit as audit_service

# Compiled reads answer in about a millisecond, a general operation in a few, a large screen in hundreds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Compiled plans are made for whatever names clients send; past this many the rest count as ``other``.
MAX_OPERATIONS = 200
OTHER = "other"
ANONYMOUS = "anonymous"
COMPILED = "compiled"
GENERAL = "general"


class RequestMetrics:
    """The request count and latency histogram, each label set's children looked up once."""

    def __init__(self, operations: Iterable[str] = (), *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        labels = ("operation", "audience", "status", "lane")
        self.requests = Counter("hrss_graphql_requests", "GraphQL requests answered.", labels, registry=self.registry)
        self.latency = Histogram(
            "hrss_graphql_request_duration_seconds",
            "Time from the request's arrival to its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.audit_unsealed = Gauge(
            "hrss_audit_unsealed_entries", "Audit entries not sealed into the hash chain yet.", registry=self.registry
        )
        self.audit_oldest = Gauge(
            "hrss_audit_oldest_unsealed_seconds",
            "Age of the oldest audit entry not sealed yet (0: none waits).",
            registry=self.registry,
        )
        self.known: set[str] = set(operations)
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    def know(self, operation: str | None) -> None:
        """A name that gets a label of its own (a compiled read's), within the bound."""
        if operation and operation not in self.known and len(self.known) < MAX_OPERATIONS:
            self.known.add(operation)

    def operation_label(self, operation: object) -> str:
        if operation is None or operation == "":
            return ANONYMOUS
        return operation if isinstance(operation, str) and operation in self.known else OTHER

    def observe(self, operation: object, audience: str, status: int, seconds: float, lane: str) -> None:
        key = (self.operation_label(operation), audience, status, lane)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(*key), self.latency.labels(*key))
        children[0].inc()
        children[1].observe(seconds)


class PoolCollector(Collector):
    """The pools as they are at scrape time: SQLAlchemy's (size, checked out, overflow) and the compiled reads'
    asyncpg pool (size, idle)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        family = GaugeMetricFamily(
            "hrss_db_pool_connections", "Database pool connections by pool and state.", labels=["pool", "state"]
        )
        engine = getattr(self.state, "engine", None)
        if engine is not None:
            pool = engine.pool
            family.add_metric(["sqlalchemy", "size"], pool.size())
            family.add_metric(["sqlalchemy", "checked_out"], pool.checkedout())
            family.add_metric(["sqlalchemy", "overflow"], max(pool.overflow(), 0))
        router = getattr(self.state, "graphql", None)
        read_pool = getattr(router, "compiled_pool", None)
        if read_pool is not None:
            family.add_metric(["compiled_reads", "size"], read_pool.size)
            family.add_metric(["compiled_reads", "idle"], read_pool.idle)
        yield family
        replicas = getattr(self.state, "replicas", None)
        if replicas is not None:
            yield from _replica_families(replicas)


def _replica_families(replicas: Any) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """Each hot standby's state as of its last check, and where reads went (store.replicas)."""
    up = GaugeMetricFamily(
        "hrss_replica_up", "1 while the replica takes reads (a standby within the lag bound).", labels=["replica"]
    )
    lag = GaugeMetricFamily(
        "hrss_replica_lag_seconds", "Replay lag as last measured (NaN: not measured).", labels=["replica"]
    )
    behind = GaugeMetricFamily(
        "hrss_replica_behind_bytes", "WAL the replica had not replayed at its last check.", labels=["replica"]
    )
    served = CounterMetricFamily("hrss_replica_reads", "Reads a replica answered.", labels=["replica"])
    failed = CounterMetricFamily(
        "hrss_replica_failed_reads", "Reads a replica failed, repeated on the primary.", labels=["replica"]
    )
    for replica in replicas.replicas:
        up.add_metric([replica.name], 1.0 if replica.up else 0.0)
        lag.add_metric([replica.name], replica.lag_seconds if replica.lag_seconds is not None else math.nan)
        behind.add_metric([replica.name], replica.behind_bytes if replica.behind_bytes is not None else math.nan)
        served.add_metric([replica.name], replica.served)
        failed.add_metric([replica.name], replica.failed)
    primary = CounterMetricFamily("hrss_reads_to_primary", "Reads that found no replica to take them.")
    primary.add_metric([], replicas.to_primary)
    yield from (up, lag, behind, served, failed, primary)


def metrics_allowed(request: Request, token: str | None) -> bool:
    if token:
        header = request.headers.get("authorization", "")
        return header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip().encode(), token.encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    settings = state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if not metrics_allowed(request, token):
        status = 401 if token else 403
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if token else {}
        return JSONResponse({"error": "metrics are not public"}, status_code=status, headers=headers)
    metrics: RequestMetrics = state.metrics
    unsealed: float
    oldest: float
    try:
        unsealed, oldest = await audit_service.audit_lag(state.engine)
    except Exception:  # the database is down: the lag is unknown, the rest is still worth scraping
        unsealed, oldest = float("nan"), float("nan")
    metrics.audit_unsealed.set(unsealed)
    metrics.audit_oldest.set(oldest)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


class GraphQLMetricsMiddleware:
    """Counts and times the /graphql requests the compiled lane passes on to the chain (the lane counts its own).
    The router leaves the operation and audience in the request's state (api/graphql.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = getattr(scope["app"].state, "metrics", None) if scope["type"] == "http" else None
        if metrics is None or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            operation, audience = state.get("graphql_labels", (None, ANONYMOUS))
            metrics.observe(operation, audience, status, time.perf_counter() - started, GENERAL)
