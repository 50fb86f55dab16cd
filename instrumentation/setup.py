"""Tracing setup for ``import tokentrail.auto``: a provider only where the app has none."""

from __future__ import annotations

import atexit
import logging
import os

from opentelemetry import trace

from .config import disabled
from .instrumentor import AnthropicInstrumentor

log = logging.getLogger("tokentrail.instrumentation")

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"  # docs/design.md: OTLP HTTP on 4318, localhost


def has_real_provider() -> bool:
    """Whether the application (or opentelemetry-instrument) already set a provider."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def enable() -> AnthropicInstrumentor | None:
    """Set up an OTLP/HTTP exporting provider if none is configured, then instrument.

    With a provider already in place only the instrumentation is added: spans go wherever
    the application sends them. ``OTEL_SDK_DISABLED=true`` or ``TOKENTRAIL_DISABLED=1``
    make this a no-op.
    """
    if disabled():
        return None
    if not has_real_provider():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from .export_warnings import OneWarningExporter

        endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT)
        if not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        provider = TracerProvider(resource=Resource.create())
        exporter = OneWarningExporter(OTLPSpanExporter(endpoint=endpoint), endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter))  # one warning, not one
        # per retry, while the collector cannot be reached (.export_warnings)
        trace.set_tracer_provider(provider)
        atexit.register(provider.shutdown)
        log.debug("tokentrail: exporting traces to %s", endpoint)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    return instrumentor
