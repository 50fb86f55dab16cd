"""tokentrail's agent side: instrumentation of the anthropic SDK.

    import tokentrail.auto                      # everything, from the environment
    from tokentrail.instrumentation import AnthropicInstrumentor, run
    AnthropicInstrumentor().instrument(tracer_provider=provider)
    with run("triage", ticket=42): ...

Only the base dependencies are imported here (OpenTelemetry API/SDK, the OTLP/HTTP
exporter, opentelemetry-instrumentation): never chDB, FastAPI or the server extra.
"""

from __future__ import annotations

from .instrumentor import AnthropicInstrumentor
from .runs import Run, current_run, run

__all__ = ["AnthropicInstrumentor", "Run", "current_run", "run"]
