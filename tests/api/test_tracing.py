"""OpenTelemetry tracing: a request continues its caller's trace down to its SQL, with no subject data in any
span; off, the app installs nothing and produces no span."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from api.settings import Settings
from api.tracing import TracingMiddleware, configured_provider, tracing_enabled
from store.db import bureau_today
from tests import factories
from tests.api.test_compiled import SINGLE_CHECK
from tests.conftest import Api, running_app
from tests.schema.test_restrictions import blacklisting
from tests.schema.test_writes import IMPORT

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
BY_USCC = "query Lookup($u: String!) { subject(ref: {uscc: $u}) { name records(first: 5) { totalCount } } }"


@pytest.fixture
async def traced(settings: Settings, database_url: str) -> AsyncIterator[tuple[Api, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with running_app(settings, database_url, tracer=provider) as api:
        yield api, exporter


def _everything_in(spans: list[object]) -> str:
    return json.dumps([json.loads(span.to_json()) for span in spans], ensure_ascii=False)  # type: ignore[attr-defined]


async def test_a_request_with_a_traceparent_continues_that_trace_down_to_its_sql(
    traced: tuple[Api, InMemorySpanExporter],
) -> None:
    api, exporter = traced
    token = await api.token("inspection")
    exporter.clear()
    body = await api.gql(BY_USCC, {"u": factories.new_uscc()}, token=token, headers={"traceparent": TRACEPARENT})
    assert "errors" not in body
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    assert len(server) == 1
    assert server[0].parent is not None and server[0].parent.span_id == int(PARENT_ID, 16)
    sql = [s for s in spans if s.kind is SpanKind.CLIENT and (s.attributes or {}).get("db.system") == "postgresql"]
    assert sql, [s.name for s in spans]
    assert all(s.parent is not None for s in sql)


async def test_a_compiled_check_has_a_span_for_its_statement(traced: tuple[Api, InMemorySpanExporter]) -> None:
    api, exporter = traced
    uscc = factories.new_uscc()  # a subject in the register: the compiled lane answers it
    await api.gql(IMPORT, {"records": [blacklisting(uscc, bureau_today() - timedelta(days=5))]})
    procurement = await api.token("procurement")
    exporter.clear()
    body = await api.gql(SINGLE_CHECK, {"u": uscc}, token=procurement, headers={"traceparent": TRACEPARENT})
    assert "errors" not in body
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    compiled = [s for s in spans if s.name == "SELECT compiled"]
    assert len(compiled) == 1, [s.name for s in spans]
    assert compiled[0].kind is SpanKind.CLIENT and (compiled[0].attributes or {}).get("db.system") == "postgresql"
    server = [s for s in spans if s.kind is SpanKind.SERVER]
    assert compiled[0].parent is not None and compiled[0].parent.span_id in {s.context.span_id for s in server}


async def test_no_span_carries_subject_data(traced: tuple[Api, InMemorySpanExporter]) -> None:
    api, exporter = traced
    uscc = factories.new_uscc()
    await api.gql(IMPORT, {"records": [blacklisting(uscc, bureau_today() - timedelta(days=5))]})
    token = await api.token("inspection")
    procurement = await api.token("procurement")
    exporter.clear()
    await api.gql(BY_USCC, {"u": uscc}, token=token, headers={"traceparent": TRACEPARENT})
    await api.gql(SINGLE_CHECK, {"u": uscc}, token=procurement)  # the compiled lane, traced as well
    get = await api.client.get(
        "/graphql",
        params={"query": BY_USCC, "variables": json.dumps({"u": uscc})},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert get.status_code == 200
    spans = list(exporter.get_finished_spans())
    assert len({s.context.trace_id for s in spans if s.kind is SpanKind.SERVER}) == 3
    everything = _everything_in(spans)
    assert uscc not in everything
    assert "上海欠薪建设工程有限公司" not in everything  # nor the subject's name


async def test_with_tracing_off_the_app_installs_nothing_and_traces_nothing(
    traced: tuple[Api, InMemorySpanExporter], settings: Settings, database_url: str
) -> None:
    _, exporter = traced
    off = settings.model_copy(update={"tracing": None})
    assert configured_provider(off) is None or tracing_enabled(off)  # the environment may turn it on
    quiet = settings.model_copy(update={"tracing": False})
    assert configured_provider(quiet) is None
    async with running_app(quiet, database_url) as api:
        assert not any(m.cls is TracingMiddleware for m in api.app.user_middleware)
        exporter.clear()
        token = await api.token("inspection")
        await api.gql(BY_USCC, {"u": factories.new_uscc()}, token=token, headers={"traceparent": TRACEPARENT})
    # The traced app's provider is its own: another app in the process leaves nothing in it.
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_is_on_only_when_an_endpoint_is_configured(
    settings: Settings, environ: dict[str, str], on: bool
) -> None:
    unset = settings.model_copy(update={"tracing": None})
    assert tracing_enabled(unset, environ) is on
    assert tracing_enabled(settings.model_copy(update={"tracing": True}), {}) is True
    assert tracing_enabled(settings.model_copy(update={"tracing": False}), environ) is False


async def test_a_compiled_plan_that_declines_runs_its_statement_once(traced: tuple[Api, InMemorySpanExporter]) -> None:
    api, exporter = traced
    procurement = await api.token("procurement")
    exporter.clear()
    # An unknown subject: the plan declines in the lane, and the general path behind it answers.
    body = await api.gql(
        SINGLE_CHECK, {"u": factories.new_uscc()}, token=procurement, headers={"traceparent": TRACEPARENT}
    )
    assert body["data"]["subject"] is None
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    assert [s.name for s in spans].count("SELECT compiled") == 1, [s.name for s in spans]
