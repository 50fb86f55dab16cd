"""SIGKILL under load: every span the collector acknowledged is there, once.

The load comes from the official OTLP/HTTP exporter, which retries a request that
failed (connection refused while the collector is down, 503, ...). A wrapper around
it records which spans' export returned SUCCESS, i.e. were acknowledged with 200.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from tests.integration.serve import Serve, calls
from tests.otlp import anthropic_call_attrs
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


class AckRecorder(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.acknowledged: list[str] = []
        self.failed_batches = 0
        self.lock = threading.Lock()

    def export(self, spans):
        result = self.inner.export(spans)
        with self.lock:
            if result is SpanExportResult.SUCCESS:
                self.acknowledged.extend(s.attributes["gen_ai.response.id"] for s in spans)
            else:
                self.failed_batches += 1
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def test_sigkill_loses_nothing_acknowledged(tmp_path):
    server = Serve(tmp_path / "data")
    server.start()
    recorder = AckRecorder(OTLPSpanExporter(endpoint=f"{server.otlp}/v1/traces", timeout=30))
    provider = TracerProvider(resource=Resource.create({"service.name": "load"}))
    provider.add_span_processor(BatchSpanProcessor(
        recorder, max_export_batch_size=100, schedule_delay_millis=20, max_queue_size=100_000))
    tracer = provider.get_tracer("com.anthropic.sdk.python")
    stop = threading.Event()
    created: list[str] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            rid = f"msg_kill_{i}"
            with tracer.start_as_current_span("chat") as s:
                s.set_attributes(anthropic_call_attrs(response_id=rid, uncached=1, read=2,
                                                      write=3, output=4, conversation="kill"))
            created.append(rid)
            i += 1
            if i % 20 == 0:
                time.sleep(0.02)  # ~1000 spans/s: steady load, not a flood

    producer = threading.Thread(target=load)
    producer.start()
    try:
        wait_until(
            lambda: len(recorder.acknowledged), until=lambda n: n >= 500, timeout=30,
            interval=0.01, message="serve acknowledges 500 spans")
        server.stop(signal.SIGKILL)  # no drain, no flush: the process just dies
        # Load goes on while the collector is down: these spans wait in the exporter.
        created_at_kill = len(created)
        wait_until(lambda: len(created), until=lambda n: n >= created_at_kill + 300,
                   timeout=30, interval=0.01,
                   message="300 spans are created while the collector is down")
        server.start()  # same ports and data: the exporter's retries now succeed
        acknowledged_at_restart = len(recorder.acknowledged)
        wait_until(lambda: len(recorder.acknowledged),
                   until=lambda n: n >= acknowledged_at_restart + 500, timeout=60,
                   interval=0.01, message="the restarted serve acknowledges 500 more spans")
    finally:
        stop.set()
        producer.join(30)
        provider.force_flush(60_000)
        provider.shutdown()
    try:
        stored = calls(server, "kill")
    finally:
        server.stop()

    stored_ids = [c["response_id"] for c in stored]
    assert len(stored_ids) == len(set(stored_ids))  # once
    missing = set(recorder.acknowledged) - set(stored_ids)
    assert not missing, f"{len(missing)} acknowledged spans lost, e.g. {sorted(missing)[:5]}"
    assert set(stored_ids) <= set(created)
    print(f"created {len(created)}, acknowledged {len(recorder.acknowledged)}, "
          f"stored {len(stored_ids)}, failed export batches {recorder.failed_batches}")
