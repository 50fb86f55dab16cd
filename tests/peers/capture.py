"""Capture what one instrumentation of the anthropic SDK emits for a fixed agent.

Run as ``python -m tests.peers.capture SOURCE BASE_URL API_KEY OUT``: a fresh process
per instrumentation, because instrumentors patch the SDK globally and not all of
them unpatch cleanly. The spans are written as one OTLP ExportTraceServiceRequest
(protobuf), exactly what the instrumentation would have exported.
"""

from __future__ import annotations

import os
import sys

SYSTEM = "You are a meticulous assistant. " + "Context line for caching. " * 400
TOOLS = [{
    "name": "lookup",
    "description": "Look a word up.",
    "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}},
}]
MODEL = "claude-sonnet-4-5"


def run_agent(base_url: str, api_key: str) -> None:
    """Three turns of one growing conversation, with a cached system prompt."""
    import anthropic

    # Each capture is its own emulator workspace, so each sees the same cold cache.
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0,
                                 default_headers={"anthropic-workspace-id": api_key})
    messages: list[dict] = []
    for turn in range(3):
        messages.append({"role": "user", "content": f"Question number {turn}: what is new?"})
        response = client.messages.create(
            model=MODEL,
            max_tokens=200,
            system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
            tools=TOOLS,
            messages=messages,
        )
        messages.append({"role": "assistant", "content": [
            block.model_dump(exclude_none=True) for block in response.content]})
        if response.stop_reason == "tool_use":
            tool_use = next(b for b in response.content if b.type == "tool_use")
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "found"}]})
            messages.append({"role": "assistant", "content": "Noted."})


def instrument(source: str, provider) -> None:
    if source == "anthropic-sdk":
        from opentelemetry import trace

        trace.set_tracer_provider(provider)  # the SDK traces natively once this exists
        return
    if source == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
    elif source == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
    elif source == "otel-contrib":
        from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
    else:
        raise SystemExit(f"unknown source {source}")
    AnthropicInstrumentor().instrument(tracer_provider=provider)


def main(source: str, base_url: str, api_key: str, out: str) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"agent-{source}"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sources = source.split("+")
    if "anthropic-sdk" not in sources:
        os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"  # only the instrumentations named
    for name in sources:
        instrument(name, provider)
    run_agent(base_url, api_key)
    provider.force_flush()
    with open(out, "wb") as fh:
        fh.write(encode_spans(exporter.get_finished_spans()).SerializeToString())


if __name__ == "__main__":
    main(*sys.argv[1:])
