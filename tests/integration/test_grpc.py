"""OTLP/gRPC into a real `tokentrail serve`, through the official gRPC exporter."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.integration.serve import calls, serving
from tests.otlp import anthropic_call_attrs, span, trace_request

pytestmark = pytest.mark.integration

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def test_grpc_export_and_errors(tmp_path):
    with serving(tmp_path / "data") as server:
        endpoint = f"127.0.0.1:{server.grpc_port}"
        provider = TracerProvider(resource=Resource.create({"service.name": "grpc-agent"}))
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
        with provider.get_tracer("com.anthropic.sdk.python").start_as_current_span("chat") as s:
            s.set_attributes(anthropic_call_attrs(response_id="msg_grpc", uncached=3, read=4,
                                                  write=5, output=6, conversation="conv-grpc"))
        assert provider.force_flush(10_000)
        provider.shutdown()
        (call,) = calls(server, "conv-grpc")
        assert (call["input_tokens"], call["cache_read_tokens"], call["cache_write_5m_tokens"],
                call["output_tokens"]) == (3, 4, 5, 6)

        with grpc.insecure_channel(endpoint) as channel:
            export = channel.unary_unary(EXPORT)
            with pytest.raises(grpc.RpcError) as bad:
                export(b"\x0a\xff\xff\xff not protobuf", timeout=10)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "protobuf" in bad.value.details()
            ok = export(trace_request([span(anthropic_call_attrs(
                response_id="msg_raw", uncached=1, read=0, write=0, output=1,
                conversation="conv-grpc"))]).SerializeToString(), timeout=10)
            assert ok == b""  # an empty ExportTraceServiceResponse: full success
        assert len(calls(server, "conv-grpc")) == 2


def test_grpc_token(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_INGEST_TOKEN", "g-token")
    with serving(tmp_path / "data") as server:
        body = trace_request([span(anthropic_call_attrs(
            response_id="m", uncached=1, read=0, write=0, output=1))]).SerializeToString()
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            export = channel.unary_unary(EXPORT)
            with pytest.raises(grpc.RpcError) as denied:
                export(body, timeout=10)
            assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
            export(body, timeout=10, metadata=(("authorization", "Bearer g-token"),))
