"""`tokentrail serve` as a real process: OTLP in through the official exporter and
as OTLP/JSON, llm_calls rows and the runs page out, data kept across a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tests.conftest import free_port
from tests.integration.serve import calls, serving
from tests.otlp import anthropic_call_attrs, span, to_otlp_json, trace_request
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def _export_with_official_exporter(endpoint: str) -> None:
    """One Anthropic call as a span, through opentelemetry-exporter-otlp-proto-http."""
    provider = TracerProvider(resource=Resource.create({"service.name": "pb-agent"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("com.anthropic.sdk.python")
    with tracer.start_as_current_span("chat claude-sonnet-4-5", kind=SpanKind.CLIENT) as s:
        s.set_attributes(anthropic_call_attrs(
            response_id="msg_pb_1", uncached=40, read=24500, write=2100, output=55,
            conversation="conv-pb"))
    assert provider.force_flush(10_000)
    provider.shutdown()


BUCKETS = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "output_tokens")


def test_serve_end_to_end_and_restart(tmp_path):
    data = tmp_path / "data"
    with serving(data) as server:
        _export_with_official_exporter(f"{server.otlp}/v1/traces")
        json_call = anthropic_call_attrs(response_id="msg_json_1", uncached=7, read=0,
                                         write=3000, write_1h=1000, output=9,
                                         conversation="conv-json")
        response = httpx.post(f"{server.otlp}/v1/traces",
                              content=to_otlp_json(trace_request([span(json_call)],
                                                                 service="json-agent")),
                              headers={"Content-Type": "application/json"}, timeout=10)
        assert response.status_code == 200, response.text

        (pb,) = calls(server, "conv-pb")
        assert [pb[b] for b in BUCKETS] == [40, 24500, 2100, 0, 55]
        assert pb["service_name"] == "pb-agent"
        (js,) = calls(server, "conv-json")
        assert [js[b] for b in BUCKETS] == [7, 0, 2000, 1000, 9]

        page = httpx.get(server.ui, timeout=10).text
        assert "conv-pb" in page and "conv-json" in page
        code, output = server.stop()
        assert code == 0, output

    with serving(data) as server:  # restart on the same data directory
        runs = httpx.get(f"{server.ui}/api/runs", timeout=10).json()
        assert {r["run_id"] for r in runs["runs"]} == {"conv-pb", "conv-json"}
        assert len(calls(server, "conv-pb")) == 1


def test_sigterm_keeps_every_acknowledged_span(tmp_path):
    """Requests racing a SIGTERM: every one answered 200 is in the store afterwards."""
    data = tmp_path / "data"
    acknowledged: list[str] = []
    with serving(data) as server:
        stop = threading.Event()

        def send() -> None:
            i = 0
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    rid = f"msg_race_{i}"
                    attrs = anthropic_call_attrs(response_id=rid, uncached=1, read=0,
                                                 write=0, output=1, conversation="race")
                    try:
                        r = client.post(f"{server.otlp}/v1/traces",
                                        content=trace_request([span(attrs)]).SerializeToString(),
                                        headers={"Content-Type": "application/x-protobuf"})
                    except httpx.TransportError:
                        return
                    if r.status_code == 200:
                        acknowledged.append(rid)
                    i += 1

        sender = threading.Thread(target=send)
        sender.start()
        try:
            wait_until(lambda: len(acknowledged), until=lambda n: n >= 20, timeout=30,
                       interval=0.01, message="serve acknowledges 20 requests before SIGTERM")
        finally:
            code, output = server.stop()
            stop.set()
            sender.join(30)
        assert code == 0, output
    with serving(data) as server:
        stored = {c["response_id"] for c in calls(server, "race")}
    assert set(acknowledged) <= stored


def test_second_serve_on_the_same_data_dir_fails_clearly(tmp_path):
    data = tmp_path / "data"
    with serving(data):
        other = subprocess.run(
            [sys.executable, "-m", "tokentrail", "serve", "--data", str(data),
             "--otlp-http-port", str(free_port()), "--ui-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )
    # click's error exit, with StoreError's message (tokentrail/store/database.py): the
    # data directory it could not open, and the likely reason.
    assert other.returncode == 1, other.stderr
    assert f"Error: cannot open the embedded store at {os.path.abspath(data)}: " \
        in other.stderr, other.stderr
    assert "Only one process can own an embedded data directory; is another " \
        "`tokentrail serve` running on it?" in other.stderr, other.stderr


def test_refuses_to_expose_without_tokens(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tokentrail", "serve", "--data", str(tmp_path),
         "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")},
    )
    assert result.returncode == 2
    assert "TOKENTRAIL_INGEST_TOKEN" in result.stderr
    assert "TOKENTRAIL_UI_TOKEN" in result.stderr
