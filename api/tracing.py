"""OpenTelemetry tracing of a request down to its SQL; off unless configured.

On when HRSS_TRACING is true, or, when it is unset, when the standard environment names an OTLP endpoint
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED is not true. Off, no
middleware and no engine listener is installed: a request costs exactly what it costs without OpenTelemetry.

On, the ASGI instrumentation opens a server span per request, continuing an incoming ``traceparent`` (W3C trace
context, the SDK's default propagators; OTEL_PROPAGATORS changes them), and the SQLAlchemy instrumentation a
client span per statement of the request's engine. Spans carry no subject data: the statement text is sent
without its parameters (every value the code sends is a bound parameter), and the request's query string is
hidden from the ASGI instrumentation (a GET query carries its variables there). The provider is the app's own,
never the process-global one, so two apps in one process (the tests) do not trace each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from api.settings import Settings

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_enabled(settings: Settings, environ: Mapping[str, str] | None = None) -> bool:
    if settings.tracing is not None:
        return settings.tracing
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in _ENDPOINTS)


def configured_provider(settings: Settings) -> TracerProvider | None:
    """The provider exporting to the configured OTLP endpoint (OTLP over HTTP, batched), or None: tracing off."""
    if not tracing_enabled(settings):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the service when set; the given name is the default.
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "hrss-credit"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class TracingMiddleware:
    """The ASGI instrumentation with the app's provider; outermost, so that the compiled lane is traced too. The
    query string is hidden from the instrumentation and given back to the app inside it."""

    def __init__(self, app: ASGIApp, *, provider: TracerProvider) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(
            self._restore, tracer_provider=provider, exclude_spans=["receive", "send"]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hidden = dict(scope)
        hidden["hrss.query_string"] = scope.get("query_string", b"")
        hidden["query_string"] = b""
        await self.traced(hidden, receive, send)

    async def _restore(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["query_string"] = scope.pop("hrss.query_string", b"")
        await self.app(scope, receive, send)


def trace_engine(engine: AsyncEngine, provider: TracerProvider) -> Any:
    """A client span for each statement the engine runs, as a child of the request's span: the statement's text
    only, never its parameters, and no SQL comment added."""
    tracer = provider.get_tracer("hrss_credit.sql")
    connections = NoOpMeter("hrss_credit.sql").create_up_down_counter("db.client.connections.usage")
    return EngineTracer(tracer, engine.sync_engine, connections, enable_commenter=False)  # type: ignore[no-untyped-call]
