"""Fixtures of the analysis tests: the real ingest path into a fresh store.

``otlp`` posts OTLP requests to the collector's HTTP app (in-process ASGI), which
acknowledges a request only once its rows are committed, so ``llm_calls`` is read
right after a post returns: OTLP in, ``llm_calls`` out, the same SQL as ``serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tokentrail.collector.encode import Encoder
from tokentrail.collector.ingest import Ingest
from tokentrail.collector.otlp_http import create_app
from tokentrail.collector.writer import BatchWriter
from tokentrail.store import Store

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


class Otlp:
    """Posts OTLP to the collector of one store."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, signal: str, body: bytes, headers: dict[str, str]) -> None:
        response = self.client.post(f"/v1/{signal}", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.content in (b"", b"{}"), "partial success: not every row stored"

    def traces(self, request: ExportTraceServiceRequest) -> None:
        self.post("traces", request.SerializeToString(), PROTOBUF)

    def call(self, response_id: str, *, model: str, uncached: int = 0, read: int = 0,
             write_5m: int = 0, write_1h: int = 0, output: int = 0,
             start_ns: int = NOW_NS, **extra: Any) -> None:
        """One call as the anthropic SDK's native tracing reports it (input tokens
        inclusive of the cache buckets), with any extra span attributes."""
        attrs = anthropic_call_attrs(response_id=response_id, uncached=uncached, read=read,
                                     write=write_5m + write_1h, write_1h=write_1h,
                                     output=output, model=model)
        attrs.update(extra)
        self.traces(trace_request([span(attrs, start_ns=start_ns)]))


@contextmanager
def collector(store) -> Iterator[Otlp]:
    """The collector's OTLP/HTTP app over ``store``, in-process."""
    encoder = Encoder.for_store(store, workers=0)
    writer = BatchWriter(store, max_delay=0.01)
    try:
        yield Otlp(TestClient(create_app(Ingest(writer, encoder))))
    finally:
        writer.close()
        encoder.close()


@pytest.fixture
def otlp(store) -> Iterator[Otlp]:
    with collector(store) as client:
        yield client


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory) -> Iterator[Store]:
    """One store for a whole module whose tests use distinct call ids (a store costs
    seconds to create). chDB holds one data path per process at a time, so a module
    that uses it must not use the per-test ``store`` too."""
    s = Store.open(f"chdb://{tmp_path_factory.mktemp('store') / 'data'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def shared_otlp(shared_store) -> Iterator[Otlp]:
    with collector(shared_store) as client:
        yield client


def call(store, call_id: str) -> dict[str, Any]:
    rows = store.query("SELECT * FROM llm_calls WHERE call_id = {id:String}", {"id": call_id})
    assert len(rows) == 1, f"{call_id}: {len(rows)} rows in llm_calls"
    return rows[0]
