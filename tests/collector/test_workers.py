"""Decoding in worker processes, as `tokentrail serve` does (settings.decode_workers > 0).

The rest of the collector tests decode in threads of the test process (the ``encoder``
fixture). Here the :class:`Encoder` runs real ``spawn``ed worker processes: what they
produce must be byte for byte what the in-process decode produces, their errors must
reach the receiver as the same clear failures, and a worker killed with SIGKILL (a
crash on a hostile body, the OOM killer) must cost at most the requests it was
decoding, never a request that arrives afterwards nor a row that was acknowledged.
"""

from __future__ import annotations

import asyncio
import gzip
import multiprocessing
import os
import signal
from collections.abc import Iterator

import pytest

from tests.conftest import CLAUDE_CODE_FIXTURES
from tests.otlp import anthropic_call_attrs, span, to_otlp_json, trace_request
from tests.waiting import wait_until, wait_until_async
from tokentrail.collector.decode import JSON, PROTOBUF, BodyTooLarge, DecodeError
from tokentrail.collector.encode import Encoder
from tokentrail.collector.ingest import Failure, Ingest, IngestError
from tokentrail.collector.signals import TRACES
from tokentrail.collector.writer import BatchWriter


def _spans_body(prefix: str, count: int) -> bytes:
    return trace_request([
        span(anthropic_call_attrs(response_id=f"{prefix}_{i}", uncached=i, read=2 * i,
                                  write=3, output=4, conversation=f"conv-{prefix}"))
        for i in range(count)]).SerializeToString()


def _requests() -> list[tuple[str, bytes, str, str | None]]:
    """(signal, body, content type, content encoding): every signal, both encodings, gzip."""
    protobuf = _spans_body("pb", 50)
    as_json = to_otlp_json(trace_request([span(anthropic_call_attrs(
        response_id="js_1", uncached=1, read=2, write=3, output=4, write_1h=1))]))
    fixtures = [(signal, (CLAUDE_CODE_FIXTURES / name).read_bytes(), JSON, None)
                for signal, name in (("traces", "traces-0.otlp.json"),
                                     ("logs", "logs-0.otlp.json"),
                                     ("logs", "logs-1.otlp.json"),
                                     ("metrics", "metrics-0.otlp.json"))]
    return [("traces", protobuf, PROTOBUF, None),
            ("traces", gzip.compress(protobuf), PROTOBUF, "gzip"),
            ("traces", as_json, JSON, None),
            *fixtures]


def _children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children()}


@pytest.fixture
def process_encoder(store) -> Iterator[Encoder]:
    enc = Encoder.for_store(store, workers=2)
    yield enc
    enc.close()


def test_worker_processes_encode_exactly_what_the_test_process_does(store, encoder,
                                                                    process_encoder):
    before = _children()
    for signal_name, body, kind, encoding in _requests():
        args = (signal_name, body, kind, encoding, 20 << 20)
        in_process = encoder.submit(*args).result(timeout=60)
        in_workers = process_encoder.submit(*args).result(timeout=60)
        assert in_workers == in_process, (signal_name, kind, encoding)
        assert sum(t.rows for t in in_workers.tables) > 0, (signal_name, kind, encoding)
    # The work really left this process: the encoder started worker processes of its own.
    assert _children() - before


def test_worker_errors_are_the_same_clear_failures(process_encoder, encoder):
    for enc in (encoder, process_encoder):
        with pytest.raises(DecodeError):
            enc.submit("traces", b"\xff\x00 not protobuf", PROTOBUF, None, 1 << 20).result(60)
        with pytest.raises(BodyTooLarge):
            enc.submit("traces", gzip.compress(b"\0" * (2 << 20)), PROTOBUF, "gzip",
                       1 << 20).result(60)


# --- a worker killed with SIGKILL ------------------------------------------------------

@pytest.fixture
def ingest(store) -> Iterator[Ingest]:
    writer = BatchWriter(store, max_rows=10_000, max_delay=0.01)
    enc = Encoder.for_store(store, workers=1)
    yield Ingest(writer, enc, max_body_bytes=64 << 20)
    writer.close()
    enc.close()


def _export(ingest: Ingest, body: bytes) -> str:
    """One OTLP/protobuf traces request through the ingest path: "ok", or the failure."""
    async def go() -> str:
        try:
            await ingest.export(TRACES, body, PROTOBUF)
        except IngestError as exc:
            assert exc.failure is Failure.UNAVAILABLE and exc.retry_after, exc.message
            return f"unavailable: {exc.message}"
        return "ok"

    return asyncio.run(go())


def _stored_ids(store, prefix: str) -> list[str]:
    rows = store.query("SELECT SpanAttributes['gen_ai.response.id'] AS id FROM otel_traces "
                       "WHERE startsWith(id, {prefix:String})", {"prefix": prefix})
    return sorted(r["id"] for r in rows)


def _ids(prefix: str, count: int) -> list[str]:
    return sorted(f"{prefix}_{i}" for i in range(count))


def _worker_pids(before: set[int]) -> set[int]:
    return wait_until(lambda: _children() - before, timeout=60,
                      message="the encoder has a worker process")


def test_requests_after_a_worker_is_killed_succeed(store, ingest):
    before = _children()
    assert _export(ingest, _spans_body("before", 5)) == "ok"
    (worker,) = _worker_pids(before)
    os.kill(worker, signal.SIGKILL)
    # Straight after the kill, before or after the pool notices: the next requests succeed.
    for i in range(3):
        assert _export(ingest, _spans_body(f"after{i}", 5)) == "ok", i
    replacement = _children() - before
    assert replacement and worker not in replacement
    assert _stored_ids(store, "before_") == _ids("before", 5)
    for i in range(3):
        assert _stored_ids(store, f"after{i}_") == _ids(f"after{i}", 5)


def _kill_during(ingest: Ingest, body: bytes, worker: int, before: set[int],
                 kill_replacement: bool) -> tuple[str, bool]:
    """Export ``body``, SIGKILL ``worker`` while the request waits for it (and, with
    ``kill_replacement``, the worker started for the retry too); returns the outcome
    and whether the request was still in flight at the first kill."""
    async def go() -> tuple[str, bool]:
        task = asyncio.ensure_future(ingest.export(TRACES, body, PROTOBUF))
        await asyncio.sleep(0)  # the request is submitted to the worker
        in_flight = not task.done()
        os.kill(worker, signal.SIGKILL)
        if kill_replacement:
            async def replacement() -> set[int]:
                return _children() - before - {worker}

            (second,) = await wait_until_async(
                replacement, timeout=60, interval=0.01,
                message="the encoder starts a new worker for the retry")
            os.kill(second, signal.SIGKILL)
        try:
            await task
        except IngestError as exc:
            assert exc.failure is Failure.UNAVAILABLE and exc.retry_after, exc.message
            return "unavailable", in_flight
        return "ok", in_flight

    return asyncio.run(go())


def test_a_request_whose_worker_is_killed_is_decoded_again_and_stored_once(store, ingest):
    before = _children()
    assert _export(ingest, _spans_body("warm", 1)) == "ok"
    (worker,) = _worker_pids(before)
    big = _spans_body("big", 40_000)  # about a second of decoding in the worker
    outcome, in_flight = _kill_during(ingest, big, worker, before, kill_replacement=False)
    assert in_flight, "the request had finished before the kill: nothing was tested"
    assert outcome == "ok"
    assert _stored_ids(store, "big_") == _ids("big", 40_000)  # all of it, once
    assert _export(ingest, _spans_body("next", 5)) == "ok"
    assert _stored_ids(store, "warm_") == _ids("warm", 1)
    assert _stored_ids(store, "next_") == _ids("next", 5)


def test_a_body_that_kills_every_worker_it_meets_is_refused_as_retryable(store, ingest):
    """One retry only: a body that crashed its worker and then the replacement is
    refused with UNAVAILABLE (not acknowledged, so nothing is lost), and the collector
    keeps serving."""
    before = _children()
    assert _export(ingest, _spans_body("warm", 1)) == "ok"
    (worker,) = _worker_pids(before)
    big = _spans_body("big", 40_000)
    outcome, in_flight = _kill_during(ingest, big, worker, before, kill_replacement=True)
    assert in_flight, "the request had finished before the kill: nothing was tested"
    assert outcome == "unavailable"
    assert _stored_ids(store, "big_") == []
    assert _export(ingest, _spans_body("next", 5)) == "ok"
    assert _export(ingest, big) == "ok"  # the exporter's retry
    assert _stored_ids(store, "big_") == _ids("big", 40_000)
    assert _stored_ids(store, "warm_") == _ids("warm", 1)
    assert _stored_ids(store, "next_") == _ids("next", 5)
