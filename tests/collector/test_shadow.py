"""The collector's decode (shadow request classes, attribute cache) against an
independent decode of the same bytes with the real OTLP classes; bad attributes are
still refused."""

from __future__ import annotations

import base64
import math
from decimal import Decimal

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.otlp import anthropic_call_attrs, key_values, span, trace_request
from tokentrail.collector.decode import PROTOBUF, DecodeError
from tokentrail.collector.encode import encode
from tokentrail.collector.rows import (
    LOG_COLUMNS,
    TRACE_COLUMNS,
    any_value_to_str,
    log_rows,
    trace_rows,
)
from tokentrail.collector.shadow import AttributeCache, LogsRequestShadow, TraceRequestShadow
from tokentrail.collector.signals import LOGS, TRACES

# --- the reference: an independent decode ------------------------------------------
# Built on the real opentelemetry-proto classes (not the shadow ones) with its own
# value -> string conversion, written from the OpenTelemetry Collector's
# pcommon.Value.AsString (pdata/pcommon/value.go), which the ClickHouse exporter stores:
# strings as they are, ints in decimal, booleans true/false, doubles as ES6 numbers,
# bytes as standard base64, maps and arrays as Go's encoding/json writes their raw form
# (keys sorted, <, > and & escaped, bytes as base64 strings, empty values as null).
# Nothing here is imported from tokentrail.collector.rows.


class _NotJSON(Exception):
    """encoding/json refuses NaN and infinities; AsString then gives ''."""


def go_number(number: float) -> str:
    """strconv.FormatFloat as pcommon's float64AsString calls it: positional notation
    unless the magnitude is below 1e-6 or at least 1e21, shortest round-trip digits."""
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    digits = Decimal(repr(number))
    if 1e-6 <= abs(number) < 1e21:
        text = format(digits, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = f"{digits:e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign, magnitude = exponent[0], exponent[1:].lstrip("0")
    return f"{mantissa}e{sign}{magnitude.zfill(2) if sign == '+' else magnitude.zfill(1)}"


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_string(text: str) -> str:
    out = []
    for char in text:
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def go_json(value: AnyValue) -> str:
    """encoding/json.Marshal(value.AsRaw())."""
    kind = value.WhichOneof("value")
    if kind is None:
        return "null"
    if kind == "string_value":
        return go_string(value.string_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        if not math.isfinite(value.double_value):
            raise _NotJSON
        return go_number(value.double_value)
    if kind == "bytes_value":
        return go_string(base64.standard_b64encode(value.bytes_value).decode())
    if kind == "array_value":
        return "[" + ",".join(go_json(v) for v in value.array_value.values) + "]"
    entries = {kv.key: kv.value for kv in value.kvlist_value.values}  # AsRaw: last wins
    return "{" + ",".join(f"{go_string(k)}:{go_json(entries[k])}" for k in sorted(entries)) + "}"


def reference_value(value: AnyValue) -> str:
    """pcommon.Value.AsString."""
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        number = value.double_value
        if math.isnan(number):
            return "json: unsupported value: NaN"
        if math.isinf(number):
            return f"json: unsupported value: {'+' if number > 0 else '-'}Inf"
        return go_number(number)
    if kind == "bytes_value":
        return base64.standard_b64encode(value.bytes_value).decode()
    try:
        return go_json(value)
    except _NotJSON:
        return ""


def reference_attributes(kvs) -> dict[str, str]:
    return {kv.key: reference_value(kv.value) for kv in kvs}  # the last of a key wins


_KINDS = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer",
          5: "Consumer"}
_CODES = {0: "Unset", 1: "Ok", 2: "Error"}


def reference_trace_rows(body: bytes) -> list[dict[str, object]]:
    request = ExportTraceServiceRequest.FromString(body)
    rows = []
    for rs in request.resource_spans:
        resource = reference_attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                rows.append({
                    "Timestamp": s.start_time_unix_nano, "TraceId": s.trace_id.hex(),
                    "SpanId": s.span_id.hex(), "ParentSpanId": s.parent_span_id.hex(),
                    "TraceState": s.trace_state, "SpanName": s.name,
                    "SpanKind": _KINDS.get(s.kind, "Unspecified"),
                    "ServiceName": resource.get("service.name", ""),
                    "ResourceAttributes": resource, "ScopeName": ss.scope.name,
                    "ScopeVersion": ss.scope.version,
                    "SpanAttributes": reference_attributes(s.attributes),
                    "Duration": max(s.end_time_unix_nano - s.start_time_unix_nano, 0),
                    "StatusCode": _CODES.get(s.status.code, "Unset"),
                    "StatusMessage": s.status.message,
                    "Events.Timestamp": [e.time_unix_nano for e in s.events],
                    "Events.Name": [e.name for e in s.events],
                    "Events.Attributes": [reference_attributes(e.attributes) for e in s.events],
                    "Links.TraceId": [x.trace_id.hex() for x in s.links],
                    "Links.SpanId": [x.span_id.hex() for x in s.links],
                    "Links.TraceState": [x.trace_state for x in s.links],
                    "Links.Attributes": [reference_attributes(x.attributes) for x in s.links],
                })
    return rows


def reference_log_rows(body: bytes) -> list[dict[str, object]]:
    request = ExportLogsServiceRequest.FromString(body)
    rows = []
    for rl in request.resource_logs:
        resource = reference_attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                rows.append({
                    "Timestamp": r.time_unix_nano or r.observed_time_unix_nano,
                    "TraceId": r.trace_id.hex(), "SpanId": r.span_id.hex(),
                    "TraceFlags": r.flags & 0xFF, "SeverityText": r.severity_text,
                    "SeverityNumber": r.severity_number,
                    "ServiceName": resource.get("service.name", ""),
                    "Body": reference_value(r.body), "ResourceSchemaUrl": rl.schema_url,
                    "ResourceAttributes": resource, "ScopeSchemaUrl": sl.schema_url,
                    "ScopeName": sl.scope.name, "ScopeVersion": sl.scope.version,
                    "ScopeAttributes": reference_attributes(sl.scope.attributes),
                    "LogAttributes": reference_attributes(r.attributes),
                })
    return rows


# --- values of every kind, built with the real classes --------------------------------

def value(raw: object) -> AnyValue:
    """Python -> AnyValue: None is the empty value, dict a kvlist, bytes bytes."""
    if raw is None:
        return AnyValue()
    if isinstance(raw, bool):
        return AnyValue(bool_value=raw)
    if isinstance(raw, int):
        return AnyValue(int_value=raw)
    if isinstance(raw, float):
        return AnyValue(double_value=raw)
    if isinstance(raw, bytes):
        return AnyValue(bytes_value=raw)
    if isinstance(raw, (list, tuple)):
        return AnyValue(array_value=ArrayValue(values=[value(v) for v in raw]))
    if isinstance(raw, dict):
        return AnyValue(kvlist_value=KeyValueList(
            values=[KeyValue(key=k, value=value(v)) for k, v in raw.items()]))
    return AnyValue(string_value=str(raw))


def kvs(attrs: dict[str, object]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in attrs.items()]


# Every AnyValue kind, alone and nested; each is decoded by the shadow path through the
# attribute cache, so each also appears twice (a cache hit must equal the miss).
ODD_VALUES: dict[str, object] = {
    "empty": None, "empty_string": "", "text": "caf\u00e9 <b> & \"q\"", "int": 3,
    "negative": -(2**63), "flag": True, "off": False, "ratio": 0.25, "whole": 3.0,
    "tiny": 1.5e-7, "big": 1e21, "huge_whole": 1e16, "small": 2.5e-5, "zero": 0.0,
    "past_2_53": 2.7890840981819507e20, "nan": float("nan"), "minus_inf": float("-inf"),
    "blob": b"\x00\x01\xfe", "no_bytes": b"", "list": ["a", 1, False, 2.0, None, b"\x07"],
    "no_list": [], "no_map": {},
    "nested": {"z": [1, {"y": 2.5, "b": None}], "a": {"k": [1, 2]}, "m": b"\xff", "q": "<&>"},
    "duplicate_keys": AnyValue(kvlist_value=KeyValueList(values=[
        KeyValue(key="k", value=AnyValue(int_value=1)),
        KeyValue(key="k", value=AnyValue(int_value=2))])),
    "nan_in_list": [float("nan")],
}


def _odd_kvs() -> list[KeyValue]:
    out = []
    for k, v in ODD_VALUES.items():
        out.append(KeyValue(key=k, value=v if isinstance(v, AnyValue) else value(v)))
    return out


def _rich_request() -> ExportTraceServiceRequest:
    first = span(anthropic_call_attrs(response_id="msg_1", uncached=5, read=10, write=20,
                                      output=3))
    first.attributes.extend(_odd_kvs())
    first.events.add(time_unix_nano=7, name="gen_ai.choice",
                     attributes=kvs({"index": 0, "finish": "end_turn", "m": {"b": 1, "a": 2}}))
    link = first.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, trace_state="a=b")
    link.attributes.extend(kvs({"why": "retry", "blob": b"\x10"}))
    first.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    first.kind = Span.SPAN_KIND_CLIENT
    # The same key twice: the last value wins, as with the real classes.
    first.attributes.extend(kvs({"gen_ai.response.id": "msg_1b"}))
    second = span(anthropic_call_attrs(response_id="msg_2", uncached=1, read=2, write=3,
                                       output=4), name="other")
    second.attributes.extend(_odd_kvs())  # the same encodings again: attribute cache hits
    second.kind = Span.SPAN_KIND_INTERNAL
    request = trace_request([first, second])
    request.resource_spans[0].resource.attributes.extend(kvs({"host": {"b": [1.0], "a": "x"}}))
    more = request.resource_spans.add()
    more.resource.attributes.extend(kvs({"service.name": "svc-2"}))
    scope_spans = more.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = "scope-2", "1.2"
    scope_spans.spans.append(span({"only": "one"}, duration_ns=0))
    return request


def _as_dicts(columns: tuple[str, ...], rows: list[list[object]]) -> list[dict[str, object]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_collector_rows_equal_an_independent_decode_of_the_real_messages():
    body = _rich_request().SerializeToString()
    shadow = TRACES.parse(body, PROTOBUF)  # what the collector parses protobuf bodies into
    assert type(shadow) is TraceRequestShadow
    rows = _as_dicts(TRACE_COLUMNS, trace_rows(shadow))
    reference = reference_trace_rows(body)
    assert len(rows) == len(reference) == 3
    for got, expected in zip(rows, reference, strict=True):
        for column in TRACE_COLUMNS:
            assert got[column] == expected[column], column
    # A few spelled out, so that a wrong reference cannot hide a wrong decode.
    attrs = rows[0]["SpanAttributes"]
    assert attrs["gen_ai.response.id"] == "msg_1b"
    assert attrs["empty"] == "" and attrs["int"] == "3" and attrs["flag"] == "true"
    assert attrs["whole"] == "3" and attrs["ratio"] == "0.25" and attrs["tiny"] == "1.5e-7"
    assert attrs["blob"] == "AAH+" and attrs["no_list"] == "[]" and attrs["no_map"] == "{}"
    assert attrs["list"] == '["a",1,false,2,null,"Bw=="]'
    assert attrs["nested"] == ('{"a":{"k":[1,2]},"m":"/w==","q":"\\u003c\\u0026\\u003e",'
                               '"z":[1,{"b":null,"y":2.5}]}')
    assert attrs["duplicate_keys"] == '{"k":2}'
    # Go's strconv: shortest digits, positional from 1e-6 up to 1e21.
    assert (attrs["huge_whole"], attrs["small"], attrs["big"], attrs["past_2_53"]) == (
        "10000000000000000", "0.000025", "1e+21", "278908409818195070000")
    assert attrs["nan"] == "json: unsupported value: NaN"
    assert attrs["minus_inf"] == "json: unsupported value: -Inf"
    assert attrs["nan_in_list"] == ""  # json.Marshal fails: AsString gives ""
    assert rows[1]["SpanAttributes"] == {**reference[1]["SpanAttributes"]}
    assert rows[0]["SpanKind"] == "Client" and rows[1]["SpanKind"] == "Internal"
    assert rows[0]["StatusCode"] == "Error" and rows[2]["ServiceName"] == "svc-2"


def test_log_rows_equal_an_independent_decode_of_the_real_messages():
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add(schema_url="https://opentelemetry.io/schemas/1")
    resource_logs.resource.attributes.extend(kvs({"service.name": "claude-code"}))
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "com.anthropic.claude_code.events"
    scope_logs.scope.attributes.extend(kvs({"m": {"y": 1, "x": 2}}))
    for i in range(3):
        record = LogRecord(time_unix_nano=i, observed_time_unix_nano=100 + i,
                           severity_number=9, severity_text="INFO", flags=0x101,
                           trace_id=bytes([i]) * 16, span_id=bytes([i]) * 8,
                           body=value({"event": "api_request", "n": [i, 1.0]}))
        record.attributes.extend(kvs({"event.name": "api_request", "input_tokens": i}))
        record.attributes.extend(_odd_kvs())
        scope_logs.log_records.append(record)
    body = request.SerializeToString()
    shadow = LOGS.parse(body, PROTOBUF)
    assert type(shadow) is LogsRequestShadow
    rows = _as_dicts(LOG_COLUMNS, log_rows(shadow))
    reference = reference_log_rows(body)
    assert len(rows) == len(reference) == 3
    for got, expected in zip(rows, reference, strict=True):
        for column in LOG_COLUMNS:
            assert got[column] == expected[column], column
    assert rows[0]["Timestamp"] == 100 and rows[1]["Timestamp"] == 1  # observed if unset
    assert rows[2]["Body"] == '{"event":"api_request","n":[2,1]}'


def _repeated(field: FieldDescriptor) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf 6+; ``label`` is gone in 7
        return field.is_repeated
    return field.label == FieldDescriptor.LABEL_REPEATED


@pytest.mark.parametrize(("shadow_cls", "real_cls", "path"), [
    (TraceRequestShadow, ExportTraceServiceRequest, ("resource_spans", "scope_spans", "spans")),
    (LogsRequestShadow, ExportLogsServiceRequest, ("resource_logs", "scope_logs",
                                                    "log_records")),
])
def test_shadow_schema_differs_from_otlp_only_in_the_attributes_field(shadow_cls, real_cls, path):
    shadow, real = shadow_cls.DESCRIPTOR, real_cls.DESCRIPTOR
    for depth in range(len(path) + 1):
        assert sorted(shadow.fields_by_name) == sorted(real.fields_by_name)
        for name, field in real.fields_by_name.items():
            mirrored = shadow.fields_by_name[name]
            assert mirrored.number == field.number
            assert _repeated(mirrored) == _repeated(field)
            if depth == len(path) and name == "attributes":
                assert mirrored.type == FieldDescriptor.TYPE_BYTES
            else:
                assert mirrored.type == field.type
                if field.message_type is not None and not (depth < len(path)
                                                           and name == path[depth]):
                    assert mirrored.message_type.full_name == field.message_type.full_name
        if depth < len(path):
            shadow = shadow.fields_by_name[path[depth]].message_type
            real = real.fields_by_name[path[depth]].message_type


def test_an_attribute_that_is_not_a_keyvalue_is_a_decode_error():
    # A key that is not UTF-8: the real classes refuse the whole body at parse time;
    # the shadow defers the attribute, so the refusal comes while building rows.
    bad = KeyValue(key="k").SerializeToString().replace(b"k", b"\xff")
    request = TraceRequestShadow()
    shadow_span = request.resource_spans.add().scope_spans.add().spans.add()
    shadow_span.name = "x"
    shadow_span.attributes.append(bad)
    body = request.SerializeToString()
    with pytest.raises(ProtobufDecodeError):
        ExportTraceServiceRequest.FromString(body)
    with pytest.raises(DecodeError, match="attribute"):
        encode("traces", body, PROTOBUF, None, 1 << 20)


def test_attribute_cache_is_bounded_and_skips_large_values():
    cache = AttributeCache(any_value_to_str, size=3, max_entry_bytes=64)
    encoded = [kv.SerializeToString() for kv in key_values({f"k{i}": i for i in range(10)})]
    assert cache.decode(encoded) == {f"k{i}": str(i) for i in range(10)}
    assert len(cache._entries) <= 3
    big = KeyValue(key="big", value=key_values({"v": "x" * 100})[0].value)
    assert cache.decode([big.SerializeToString()]) == {"big": "x" * 100}
    assert big.SerializeToString() not in cache._entries
    # Hits return what a fresh decode returns.
    again = [kv.SerializeToString() for kv in key_values({"k9": 9, "k8": 8})]
    assert cache.decode(again) == {"k9": "9", "k8": "8"}

