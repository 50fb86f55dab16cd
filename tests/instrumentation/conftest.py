"""Fixtures: the real SDK against the live emulator, spans on an in-memory exporter.

With anthropic 2.x the SDK traces natively: clients get the test's provider through
their ``open_telemetry`` option (no global state), and tokentrail must enrich the SDK's
span. With 0.x tokentrail makes the span itself, on the provider given to
``instrument(tracer_provider=...)``. Both land on the same exporter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.emulator.helpers import API_KEY
from tokentrail.emulator import Clock, RunningEmulator, running_emulator
from tokentrail.instrumentation import AnthropicInstrumentor


def sdk_traces() -> bool:
    """Whether the installed SDK has native tracing (2.x)."""
    try:
        import anthropic._base_client as base
    except ImportError:
        return False
    return hasattr(base, "finish_api_call_span")


NATIVE = sdk_traces()
SDK_SCOPE = "com.anthropic.sdk.python"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


@pytest.fixture
def instrumentor(provider: TracerProvider) -> Iterator[AnthropicInstrumentor]:
    inst = AnthropicInstrumentor()
    inst.instrument(tracer_provider=provider)
    try:
        yield inst
    finally:
        inst.uninstrument()


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(clock=Clock(frozen=True)) as running:
        yield running


def client_kwargs(emu: RunningEmulator, provider: TracerProvider, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"base_url": emu.base_url, "api_key": API_KEY, "max_retries": 0}
    if NATIVE:
        kwargs["open_telemetry"] = {"tracer_provider": provider, **extra}
    return kwargs


@pytest.fixture
def client(emu, provider, instrumentor):
    anthropic = pytest.importorskip("anthropic")
    with anthropic.Anthropic(**client_kwargs(emu, provider)) as c:
        yield c


@pytest.fixture
def async_client(emu, provider, instrumentor):
    anthropic = pytest.importorskip("anthropic")
    return anthropic.AsyncAnthropic(**client_kwargs(emu, provider))


def llm_spans(exporter: InMemorySpanExporter) -> list[Any]:
    """Spans that describe a Messages call (what llm_calls would count)."""
    return [s for s in exporter.get_finished_spans()
            if "gen_ai.usage.input_tokens" in (s.attributes or {})]
