"""Shadow request classes: the same rows as the real OTLP classes, bad attributes still refused."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tests.otlp import anthropic_call_attrs, key_values, span, trace_request
from tokentrail.collector.decode import PROTOBUF, DecodeError
from tokentrail.collector.encode import encode
from tokentrail.collector.rows import (
    LOG_COLUMNS,
    TRACE_COLUMNS,
    any_value_to_str,
    attributes,
    log_rows,
    trace_rows,
)
from tokentrail.collector.shadow import AttributeCache, LogsRequestShadow, TraceRequestShadow
from tokentrail.collector.signals import LOGS, TRACES

ODD_VALUES = {"flag": True, "ratio": 0.25, "whole": 3.0, "list": ["a", 1, False],
              "nested": {"k": [1, 2]}, "blob": b"\x00\x01", "empty": ""}


def _rich_request() -> ExportTraceServiceRequest:
    first = span(anthropic_call_attrs(response_id="msg_1", uncached=5, read=10, write=20,
                                      output=3) | ODD_VALUES)
    first.events.add(time_unix_nano=7, name="gen_ai.choice",
                     attributes=key_values({"index": 0, "finish": "end_turn"}))
    link = first.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, trace_state="a=b")
    link.attributes.extend(key_values({"why": "retry"}))
    first.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom"))
    # The same key twice: the last value wins, as with the real classes.
    first.attributes.extend(key_values({"gen_ai.response.id": "msg_1b"}))
    second = span(anthropic_call_attrs(response_id="msg_2", uncached=1, read=2, write=3,
                                       output=4), name="other")
    request = trace_request([first, second])
    more = request.resource_spans.add()
    more.resource.attributes.extend(key_values({"service.name": "svc-2"}))
    more.scope_spans.add().spans.append(span({"only": "one"}))
    return request


def _span_attribute_maps(request: ExportTraceServiceRequest) -> list[dict[str, str]]:
    """The reference: attributes read from the real KeyValue messages."""
    return [attributes(s.attributes) for rs in request.resource_spans
            for ss in rs.scope_spans for s in ss.spans]


def test_shadow_and_real_messages_give_the_same_rows():
    request = _rich_request()
    body = request.SerializeToString()
    shadow = TRACES.parse(body, PROTOBUF)
    assert type(shadow) is TraceRequestShadow
    from_shadow = trace_rows(shadow)
    assert from_shadow == trace_rows(request)  # the real class goes through the shadow too
    column = TRACE_COLUMNS.index("SpanAttributes")
    assert [row[column] for row in from_shadow] == _span_attribute_maps(request)
    first = from_shadow[0]
    assert first[column]["gen_ai.response.id"] == "msg_1b"
    assert first[column]["list"] == '["a",1,false]'
    assert first[column]["flag"] == "true" and first[column]["whole"] == "3"
    assert first[TRACE_COLUMNS.index("Events.Name")] == ["gen_ai.choice"]
    assert first[TRACE_COLUMNS.index("Links.TraceState")] == ["a=b"]
    assert first[TRACE_COLUMNS.index("StatusCode")] == "Error"
    assert from_shadow[2][TRACE_COLUMNS.index("ServiceName")] == "svc-2"
    assert from_shadow[1][TRACE_COLUMNS.index("Events.Name")] == []


def test_log_rows_from_shadow_match_the_real_attributes():
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(3):
        scope_logs.log_records.append(LogRecord(
            time_unix_nano=i + 1, attributes=key_values({"event.name": "api_request",
                                                         "input_tokens": i, **ODD_VALUES})))
    shadow = LOGS.parse(request.SerializeToString(), PROTOBUF)
    assert type(shadow) is LogsRequestShadow
    rows = log_rows(shadow)
    assert rows == log_rows(request)
    expected = [attributes(r.attributes) for r in scope_logs.log_records]
    assert [row[LOG_COLUMNS.index("LogAttributes")] for row in rows] == expected


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

