"""OTLP protobuf messages -> rows of the exporter-compatible raw tables.

Values are stored the way the OpenTelemetry Collector's ClickHouse exporter stores
them, so both ingest paths produce identical rows: attribute values as strings
(``pcommon.Value.AsString``: Go's encoding/json for arrays and maps, ES6-style
doubles, ``true``/``false`` for booleans, base64 for bytes), ids as lowercase hex,
span kind and status code as their short names. tests/collector/test_shadow.py checks
this against an independent decode.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tokentrail.collector.shadow import AttributeCache, LogsRequestShadow, TraceRequestShadow

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
    return _to_str(value, value.WhichOneof("value"))


def _to_str(value: AnyValue, kind: str | None) -> str:
    # Ordered by frequency in GenAI spans: strings, then ints (token counts).
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("array_value", "kvlist_value"):
        try:
            return _json(value, kind)
        except ValueError:  # NaN or an infinity inside: Go's json.Marshal fails, giving ""
            return ""
    if kind == "double_value":
        number = value.double_value
        if math.isfinite(number):
            return _float_to_str(number)
        return "json: unsupported value: " + ("NaN" if number != number else
                                              "+Inf" if number > 0 else "-Inf")
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return ""


def _float_to_str(number: float) -> str:
    """A finite double as Go writes it (pcommon's float64AsString, encoding/json): the
    shortest digits that round-trip, positional from 1e-6 up to 1e21 ("3", not "3.0";
    "0.000025"; "278908409818195070000"), else with an unpadded exponent ("1e-7")."""
    text = repr(number)  # the same shortest digits
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    if 1e-6 <= abs(number) < 1e21:  # Python switches to an exponent sooner than Go
        return format(Decimal(text), "f")
    return text.replace("e-0", "e-")


# Go's encoding/json also escapes these inside strings (HTML safety) where Python's does not.
_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _quote(text: str) -> str:
    return encode_basestring(text).translate(_GO_ESCAPES)


def _json(value: AnyValue, kind: str | None) -> str:
    """An AnyValue as Go's ``json.Marshal(value.AsRaw())``: map keys sorted (the last of
    a repeated key wins), bytes as base64 strings, empty values as null. Raises
    ValueError for NaN and infinities, which Go refuses."""
    if kind == "string_value":
        return _quote(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        if not math.isfinite(value.double_value):
            raise ValueError("not representable in JSON")
        return _float_to_str(value.double_value)
    if kind == "bytes_value":
        return '"' + base64.b64encode(value.bytes_value).decode("ascii") + '"'
    if kind == "array_value":
        return "[" + ",".join(_json(v, v.WhichOneof("value"))
                              for v in value.array_value.values) + "]"
    if kind == "kvlist_value":
        entries = {kv.key: kv.value for kv in value.kvlist_value.values}
        return "{" + ",".join(_quote(key) + ":" + _json(entries[key], entries[key].WhichOneof(
            "value")) for key in sorted(entries)) + "}"
    return "null"


def attributes(kvs: Iterable[KeyValue]) -> dict[str, str]:
    out = {}
    for kv in kvs:  # the hot loop of ingest: one oneof lookup per value
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = value.string_value if kind == "string_value" else _to_str(value, kind)
    return out


# Span and log record attributes arrive undecoded (see .shadow); one cache per process.
_ATTRIBUTES = AttributeCache(any_value_to_str)


def trace_rows(request: ExportTraceServiceRequest | Message) -> list[list[Any]]:
    """One row per span, columns in :data:`TRACE_COLUMNS` order.

    ``request``: a :data:`~.shadow.TraceRequestShadow` (what the collector parses
    protobuf bodies into), or an ``ExportTraceServiceRequest``, which is converted.
    """
    if type(request) is not TraceRequestShadow:
        request = TraceRequestShadow.FromString(request.SerializeToString())
    span_attributes = _ATTRIBUTES.decode
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
                kind = span.kind
                status = span.status
                code = status.code
                rows.append([
                    start,
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                    span.trace_state,
                    span.name,
                    _SPAN_KINDS[kind] if kind < len(_SPAN_KINDS) else "Unspecified",
                    service_name,
                    resource_attrs,
                    scope_name,
                    scope_version,
                    span_attributes(span.attributes),
                    end - start if end > start else 0,
                    _STATUS_CODES[code] if code < len(_STATUS_CODES) else "Unset",
                    status.message,
                    *(_event_columns(events) if events else _NO_EVENTS),
                    *(_link_columns(links) if links else _NO_LINKS),
                ])
    return rows


# Most GenAI spans have no events and no links: their (never mutated) empty columns are
# shared instead of built by seven comprehensions per span.
_NO_EVENTS: tuple[list[Any], ...] = ([], [], [])
_NO_LINKS: tuple[list[Any], ...] = ([], [], [], [])


def _event_columns(events: Any) -> tuple[list[Any], ...]:
    return ([e.time_unix_nano for e in events], [e.name for e in events],
            [attributes(e.attributes) for e in events])


def _link_columns(links: Any) -> tuple[list[Any], ...]:
    return ([link.trace_id.hex() for link in links], [link.span_id.hex() for link in links],
            [link.trace_state for link in links], [attributes(link.attributes) for link in links])


LOG_COLUMNS = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
)


def log_rows(request: ExportLogsServiceRequest | Message) -> list[list[Any]]:
    """One row per log record, columns in :data:`LOG_COLUMNS` order.

    A record without a timestamp gets its observed timestamp (as the exporter does).
    ``request``: a :data:`~.shadow.LogsRequestShadow` or an ``ExportLogsServiceRequest``.
    """
    if type(request) is not LogsRequestShadow:
        request = LogsRequestShadow.FromString(request.SerializeToString())
    record_attributes = _ATTRIBUTES.decode
    rows: list[list[Any]] = []
    for resource_logs in request.resource_logs:
        resource_attrs = attributes(resource_logs.resource.attributes)
        service_name = resource_attrs.get("service.name", "")
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope
            scope_attrs = attributes(scope.attributes)
            for record in scope_logs.log_records:
                rows.append([
                    record.time_unix_nano or record.observed_time_unix_nano,
                    record.trace_id.hex(),
                    record.span_id.hex(),
                    record.flags & 0xFF,
                    record.severity_text,
                    int(record.severity_number) & 0xFF,
                    service_name,
                    any_value_to_str(record.body),
                    resource_logs.schema_url,
                    resource_attrs,
                    scope_logs.schema_url,
                    scope.name,
                    scope.version,
                    scope_attrs,
                    record_attributes(record.attributes),
                ])
    return rows


METRIC_COMMON_COLUMNS = (
    "ResourceAttributes",
    "ResourceSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "ScopeDroppedAttrCount",
    "ScopeSchemaUrl",
    "ServiceName",
    "MetricName",
    "MetricDescription",
    "MetricUnit",
    "Attributes",
    "StartTimeUnix",
    "TimeUnix",
)
_EXEMPLAR_COLUMNS = (
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
)
GAUGE_COLUMNS = (*METRIC_COMMON_COLUMNS, "Value", "Flags", *_EXEMPLAR_COLUMNS)
SUM_COLUMNS = (*GAUGE_COLUMNS, "AggregationTemporality", "IsMonotonic")
HISTOGRAM_COLUMNS = (
    *METRIC_COMMON_COLUMNS, "Count", "Sum", "BucketCounts", "ExplicitBounds",
    *_EXEMPLAR_COLUMNS, "Flags", "Min", "Max", "AggregationTemporality",
)


@dataclass
class MetricRows:
    """Rows per metric table, plus the data points no table holds (reported back
    to the client as a partial success instead of being dropped silently)."""

    gauge: list[list[Any]] = field(default_factory=list)
    sum: list[list[Any]] = field(default_factory=list)
    histogram: list[list[Any]] = field(default_factory=list)
    rejected_points: int = 0
    rejected_kinds: set[str] = field(default_factory=set)


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def _exemplars(exemplars: Any) -> list[list[Any]]:
    return [
        [attributes(e.filtered_attributes) for e in exemplars],
        [e.time_unix_nano for e in exemplars],
        [_number(e) for e in exemplars],
        [e.span_id.hex() for e in exemplars],
        [e.trace_id.hex() for e in exemplars],
    ]


def metric_rows(request: ExportMetricsServiceRequest) -> MetricRows:
    out = MetricRows()
    for resource_metrics in request.resource_metrics:
        resource_attrs = attributes(resource_metrics.resource.attributes)
        service_name = resource_attrs.get("service.name", "")
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            head = [resource_attrs, resource_metrics.schema_url, scope.name, scope.version,
                    attributes(scope.attributes), scope.dropped_attributes_count,
                    scope_metrics.schema_url, service_name]
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                described = [*head, metric.name, metric.description, metric.unit]
                if kind in ("gauge", "sum"):
                    data = getattr(metric, kind)
                    for p in data.data_points:
                        row = [*described, attributes(p.attributes), p.start_time_unix_nano,
                               p.time_unix_nano, _number(p), p.flags, *_exemplars(p.exemplars)]
                        if kind == "sum":
                            row += [int(data.aggregation_temporality), data.is_monotonic]
                            out.sum.append(row)
                        else:
                            out.gauge.append(row)
                elif kind == "histogram":
                    data = metric.histogram
                    for p in data.data_points:
                        out.histogram.append([
                            *described, attributes(p.attributes), p.start_time_unix_nano,
                            p.time_unix_nano, p.count, p.sum, list(p.bucket_counts),
                            list(p.explicit_bounds), *_exemplars(p.exemplars), p.flags,
                            p.min, p.max, int(data.aggregation_temporality),
                        ])
                elif kind is not None:  # exponential_histogram, summary: no table yet
                    out.rejected_points += len(getattr(metric, kind).data_points)
                    out.rejected_kinds.add(kind)
    return out
