"""Builders of OTLP trace requests for tests (protobuf and OTLP/JSON)."""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

NOW_NS = 1_795_501_687_000_000_000  # 2026-11-24, like the Claude Code fixtures


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def key_values(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def anthropic_call_attrs(
    *,
    response_id: str,
    uncached: int,
    read: int,
    write: int,
    output: int,
    model: str = "claude-sonnet-4-5",
    conversation: str | None = None,
    write_1h: int = 0,
) -> dict[str, Any]:
    """Attributes of one call as the anthropic SDK's native tracing reports it:
    gen_ai.usage.input_tokens INCLUDES cache reads and writes (docs/facts.md §3-4)."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.response.id": response_id,
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": uncached + read + write,
        "gen_ai.usage.output_tokens": output,
        "gen_ai.usage.cache_read.input_tokens": read,
        "gen_ai.usage.cache_write.input_tokens": write,
        "anthropic.usage.cache_creation.ephemeral_5m_input_tokens": write - write_1h,
        "anthropic.usage.cache_creation.ephemeral_1h_input_tokens": write_1h,
    }
    if conversation:
        attrs["gen_ai.conversation.id"] = conversation
    return attrs


def span(
    attrs: dict[str, Any],
    *,
    name: str = "anthropic.messages.create",
    start_ns: int = NOW_NS,
    duration_ns: int = 1_500_000_000,
    trace_id: bytes | None = None,
    span_id: bytes | None = None,
) -> Span:
    return Span(
        trace_id=trace_id or os.urandom(16),
        span_id=span_id or os.urandom(8),
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        attributes=key_values(attrs),
    )


def trace_request(
    spans: list[Span],
    *,
    service: str = "test-agent",
    scope: str = "com.anthropic.sdk.python",
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(key_values({"service.name": service}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope
    scope_spans.spans.extend(spans)
    return request


def to_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as the spec writes it: camelCase, hex ids, enums as integers."""
    resource_spans = []
    for rs in request.resource_spans:
        scope_spans = []
        for ss in rs.scope_spans:
            scope_spans.append({
                "scope": {"name": ss.scope.name},
                "spans": [_span_json(s) for s in ss.spans],
            })
        resource_spans.append({
            "resource": {"attributes": [_kv_json(kv) for kv in rs.resource.attributes]},
            "scopeSpans": scope_spans,
        })
    return json.dumps({"resourceSpans": resource_spans}).encode()


def _span_json(s: Span) -> dict[str, Any]:
    return {
        "traceId": s.trace_id.hex(),
        "spanId": s.span_id.hex(),
        "parentSpanId": s.parent_span_id.hex(),
        "name": s.name,
        "kind": int(s.kind),
        "startTimeUnixNano": str(s.start_time_unix_nano),
        "endTimeUnixNano": str(s.end_time_unix_nano),
        "attributes": [_kv_json(kv) for kv in s.attributes],
        "status": {},
    }


def _kv_json(kv: KeyValue) -> dict[str, Any]:
    return {"key": kv.key, "value": _value_json(kv.value)}


def _value_json(v: AnyValue) -> dict[str, Any]:
    kind = v.WhichOneof("value")
    if kind == "int_value":
        return {"intValue": str(v.int_value)}
    if kind == "array_value":
        return {"arrayValue": {"values": [_value_json(x) for x in v.array_value.values]}}
    if kind == "bool_value":
        return {"boolValue": v.bool_value}
    if kind == "double_value":
        return {"doubleValue": v.double_value}
    return {"stringValue": v.string_value}
