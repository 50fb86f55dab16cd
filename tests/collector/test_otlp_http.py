"""The OTLP/HTTP receiver in-process (ASGI test client) over a real embedded store."""

from __future__ import annotations

import gzip
import threading

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp import anthropic_call_attrs, span, to_otlp_json, trace_request
from tests.waiting import wait_until
from tokentrail.collector.ingest import Ingest
from tokentrail.collector.otlp_http import create_app
from tokentrail.collector.writer import BatchWriter

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture
def make_client(store, encoder):
    writers = []

    def make(sink=None, **options):
        writer_options = {k: options.pop(k) for k in list(options)
                          if k in ("max_queued_rows", "retry_after")}
        writer = BatchWriter(sink or store, max_rows=1000, max_delay=0.01, **writer_options)
        writers.append(writer)
        client = TestClient(create_app(Ingest(writer, encoder, **options)))
        client.writer = writer
        return client

    yield make
    for writer in writers:
        writer.close()


def _request(n=1, prefix="msg"):
    return trace_request([
        span(anthropic_call_attrs(response_id=f"{prefix}_{i}", uncached=1, read=2, write=3,
                                  output=4))
        for i in range(n)
    ])


def _status(response) -> status_pb2.Status:
    if response.headers["content-type"].startswith("application/json"):
        return json_format.Parse(response.content, status_pb2.Status())
    return status_pb2.Status.FromString(response.content)


def test_protobuf_ok_after_commit(make_client, store):
    client = make_client()
    response = client.post("/v1/traces", content=_request(3).SerializeToString(), headers=PB)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(response.content)
    # 200 means committed: the rows are there without waiting.
    assert store.query("SELECT count() AS n FROM otel_traces")[0]["n"] == 3
    assert store.query("SELECT count() AS n FROM llm_calls")[0]["n"] == 3


def test_json_and_gzip(make_client, store):
    client = make_client()
    body = gzip.compress(to_otlp_json(_request(2)))
    response = client.post("/v1/traces", content=body,
                           headers=JS | {"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert store.query("SELECT count() AS n FROM llm_calls")[0]["n"] == 2


def test_malformed_is_400_with_reason_in_the_request_encoding(make_client):
    client = make_client()
    response = client.post("/v1/traces", content=b"\x0a\xff\xff garbage", headers=PB)
    assert response.status_code == 400
    assert "protobuf" in _status(response).message
    response = client.post("/v1/traces", content=b'{"resourceSpans": [{"scopeSpans": 3}]}',
                           headers=JS)
    assert response.status_code == 400
    assert "OTLP/JSON" in _status(response).message


def test_oversized_is_413_before_and_after_decompression(make_client):
    client = make_client(max_body_bytes=10_000)
    response = client.post("/v1/traces", content=b"\0" * 10_001, headers=PB)
    assert response.status_code == 413
    bomb = gzip.compress(b"\0" * 1_000_000)
    response = client.post("/v1/traces", content=bomb,
                           headers=PB | {"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in _status(response).message


def test_unsupported_media_type_is_415(make_client):
    response = make_client().post("/v1/traces", content=b"hello",
                                  headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "Content-Type" in _status(response).message


def test_bearer_token(make_client, store):
    client = make_client(token="s3cret")
    body = _request().SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 401
    wrong = PB | {"Authorization": "Bearer nope"}
    assert client.post("/v1/traces", content=body, headers=wrong).status_code == 401
    right = PB | {"Authorization": "Bearer s3cret"}
    assert client.post("/v1/traces", content=body, headers=right).status_code == 200


class _HeldSink:
    """Stands in for a store whose inserts are stuck, to fill the queue."""

    def __init__(self):
        self.gate = threading.Event()

    def insert_blocks(self, table, columns, blocks):
        self.gate.wait(10)


class _BrokenSink:
    """Stands in for a store that is down."""

    def insert_blocks(self, table, columns, blocks):
        raise ConnectionError("store unavailable")


def _post_behind_stuck_insert(client, prefixes):
    """POST one request per prefix from background threads and wait until all are
    queued behind the held insert; returns the threads and their responses."""
    results = []
    threads = [threading.Thread(target=lambda p=p: results.append(client.post(
        "/v1/traces", content=_request(1, p).SerializeToString(), headers=PB)))
        for p in prefixes]
    for t in threads:
        t.start()
    wait_until(lambda: client.writer.queued_rows, until=lambda n: n >= len(prefixes),
               timeout=10, interval=0.01,
               message=f"{len(prefixes)} rows are queued behind the held insert")
    return threads, results


def test_full_queue_is_429_with_retry_after(make_client):
    sink = _HeldSink()
    client = make_client(sink=sink, max_queued_rows=2, retry_after=3)
    threads, results = _post_behind_stuck_insert(client, ["m0", "m1"])
    response = client.post("/v1/traces", content=_request(1, "x").SerializeToString(),
                           headers=PB)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    sink.gate.set()
    for t in threads:
        t.join(10)
    assert [r.status_code for r in results] == [200, 200]


def test_too_many_requests_in_progress_is_429(make_client):
    """Bodies waiting to be decoded or committed are bounded too, not only rows."""
    sink = _HeldSink()
    client = make_client(sink=sink, max_in_flight=1)
    threads, first = _post_behind_stuck_insert(client, ["a"])
    second = client.post("/v1/traces", content=_request(1, "b").SerializeToString(),
                         headers=PB)
    assert second.status_code == 429
    assert "in progress" in _status(second).message
    sink.gate.set()
    threads[0].join(10)
    assert first[0].status_code == 200


def test_store_failure_is_503_with_retry_after(make_client):
    client = make_client(sink=_BrokenSink())
    response = client.post("/v1/traces", content=_request().SerializeToString(), headers=PB)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "store unavailable" in _status(response).message
