"""OTLP protobuf messages -> rows of the exporter-compatible raw tables.

Values are stored the way the OpenTelemetry Collector's ClickHouse exporter stores
them, so both ingest paths produce identical rows: attribute values as strings
(``pcommon.Value.AsString``: JSON for arrays and maps, ``true``/``false`` for
booleans), ids as lowercase hex, span kind and status code as their short names.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACE_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)

# Short names as pdata's SpanKind.String() / StatusCode.String() give them.
_SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
_STATUS_CODES = ("Unset", "Ok", "Error")


def any_value_to_str(value: AnyValue) -> str:
    """One attribute value as the string the raw tables store."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind is None:
        return ""
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False) \
        if kind in ("array_value", "kvlist_value") else _scalar_to_str(value, kind)


def _scalar_to_str(value: AnyValue, kind: str) -> str:
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _float_to_str(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return ""


def _float_to_str(number: float) -> str:
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _plain(value: AnyValue) -> Any:
    """AnyValue -> JSON-ready Python value (for arrays and maps)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else repr(number)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    return None


def attributes(kvs: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: any_value_to_str(kv.value) for kv in kvs}


def trace_rows(request: ExportTraceServiceRequest) -> list[list[Any]]:
    """One row per span, columns in :data:`TRACE_COLUMNS` order."""
    rows: list[list[Any]] = []
    for resource_spans in request.resource_spans:
        resource_attrs = attributes(resource_spans.resource.attributes)
        service_name = resource_attrs.get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            scope_version = scope_spans.scope.version
            for span in scope_spans.spans:
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                events = span.events
                links = span.links
                rows.append([
                    start,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                    span.trace_state,
                    span.name,
                    _SPAN_KINDS[span.kind] if span.kind < len(_SPAN_KINDS) else "Unspecified",
                    service_name,
                    resource_attrs,
                    scope_name,
                    scope_version,
                    attributes(span.attributes),
                    end - start if end > start else 0,
                    _STATUS_CODES[span.status.code]
                    if span.status.code < len(_STATUS_CODES) else "Unset",
                    span.status.message,
                    [e.time_unix_nano for e in events],
                    [e.name for e in events],
                    [attributes(e.attributes) for e in events],
                    [link.trace_id.hex() for link in links],
                    [link.span_id.hex() for link in links],
                    [link.trace_state for link in links],
                    [attributes(link.attributes) for link in links],
                ])
    return rows
