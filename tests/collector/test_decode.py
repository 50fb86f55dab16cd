"""Decoding OTLP bodies: both encodings agree, ids survive JSON, bad input is named."""

from __future__ import annotations

import gzip
import json
import os
import zlib

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import CLAUDE_CODE_FIXTURES
from tests.otlp import anthropic_call_attrs, span, to_otlp_json, trace_request
from tokentrail.collector.decode import (
    JSON,
    PROTOBUF,
    BodyTooLarge,
    DecodeError,
    UnsupportedMediaType,
    decompress,
    media_type,
    parse,
)
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows


def _request() -> ExportTraceServiceRequest:
    attrs = anthropic_call_attrs(response_id="msg_1", uncached=5, read=10, write=20, output=3)
    return trace_request([span(attrs), span(attrs | {"gen_ai.response.id": "msg_2"})])


def test_json_and_protobuf_give_identical_rows():
    request = _request()
    from_proto = trace_rows(parse(request.SerializeToString(), PROTOBUF, ExportTraceServiceRequest))
    from_json = trace_rows(parse(to_otlp_json(request), JSON, ExportTraceServiceRequest))
    assert from_json == from_proto
    assert len(from_json) == 2


def test_json_ids_are_read_as_hex_not_base64():
    request = _request()
    spans = request.resource_spans[0].scope_spans[0].spans
    rows = trace_rows(parse(to_otlp_json(request), JSON, ExportTraceServiceRequest))
    trace_id = rows[0][TRACE_COLUMNS.index("TraceId")]
    assert trace_id == spans[0].trace_id.hex()
    assert len(trace_id) == 32


def test_claude_code_fixture_ids_and_values():
    body = (CLAUDE_CODE_FIXTURES / "traces-0.otlp.json").read_bytes()
    rows = trace_rows(parse(body, JSON, ExportTraceServiceRequest))
    by_span = {row[TRACE_COLUMNS.index("SpanId")]: row for row in rows}
    llm = by_span["f40f5d0f3610041e"]
    assert llm[TRACE_COLUMNS.index("TraceId")] == "5feedf91b991441621b6a344601ea7ae"
    assert llm[TRACE_COLUMNS.index("ParentSpanId")] == "bf38affe1cebe097"
    assert llm[TRACE_COLUMNS.index("ServiceName")] == "claude-code"
    assert llm[TRACE_COLUMNS.index("ScopeName")] == "com.anthropic.claude_code.tracing"
    assert llm[TRACE_COLUMNS.index("SpanKind")] == "Internal"
    attrs = llm[TRACE_COLUMNS.index("SpanAttributes")]
    assert attrs["cache_read_tokens"] == "24500"
    assert attrs["anthropic.custom_base_url"] == "true"
    assert attrs["gen_ai.response.finish_reasons"] == '["tool_use"]'


def test_bad_hex_id_is_a_decode_error_naming_the_field():
    doc = json.loads(to_otlp_json(_request()))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex!"
    with pytest.raises(DecodeError, match="spanId"):
        parse(json.dumps(doc).encode(), JSON, ExportTraceServiceRequest)


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"{not json", JSON, "not valid JSON"),
        (b"[1, 2]", JSON, "JSON object"),
        (b'{"resourceSpans": 5}', JSON, "OTLP/JSON"),
        (b"\xff\xfe\x00garbage" * 3, PROTOBUF, "protobuf"),
        (_request().SerializeToString()[:-7], PROTOBUF, "protobuf"),
    ],
)
def test_malformed_bodies_raise_with_a_reason(body, kind, reason):
    with pytest.raises(DecodeError, match=reason):
        parse(body, kind, ExportTraceServiceRequest)


def test_media_types():
    assert media_type("application/x-protobuf") == PROTOBUF
    assert media_type("application/json; charset=utf-8") == JSON
    with pytest.raises(UnsupportedMediaType):
        media_type("text/plain")
    with pytest.raises(UnsupportedMediaType):
        media_type(None)


def test_gzip_roundtrip_and_limits():
    payload = os.urandom(1000)
    assert decompress(gzip.compress(payload), "gzip", limit=1000) == payload
    assert decompress(zlib.compress(payload), "deflate", limit=1000) == payload
    assert decompress(payload, None, limit=1000) == payload
    with pytest.raises(BodyTooLarge):
        decompress(gzip.compress(payload), "gzip", limit=999)


def test_gzip_bomb_is_cut_at_the_limit():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB gzipped
    assert len(bomb) < 200_000
    with pytest.raises(BodyTooLarge):
        decompress(bomb, "gzip", limit=1024 * 1024)


def test_truncated_and_bogus_gzip():
    with pytest.raises(DecodeError, match="truncated"):
        decompress(gzip.compress(os.urandom(5000))[:-20], "gzip", limit=10_000)
    with pytest.raises(DecodeError, match="not valid gzip"):
        decompress(b"definitely not gzip", "gzip", limit=10_000)
    with pytest.raises(DecodeError, match="Content-Encoding"):
        decompress(b"x", "br", limit=10)
