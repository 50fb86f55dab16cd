"""Fuzzing the receivers: every hostile body gets a clear 4xx (or is valid and
stored), never a 5xx or a crash, and the collector keeps serving.

HTTP is fuzzed in-process over a real store; gRPC against a real `tokentrail serve`
process (which is then also fuzzed over HTTP, to show the process survives).
"""

from __future__ import annotations

import collections

import grpc
import httpx
import pytest
from fastapi.testclient import TestClient

from tests.collector.fuzz_cases import (
    PB,
    cases,
    huge_attribute_request,
    many_attributes_request,
    valid_body,
)
from tests.integration.serve import serving
from tokentrail.collector.ingest import Ingest
from tokentrail.collector.otlp_http import create_app
from tokentrail.collector.writer import BatchWriter

HTTP_CASES = 400
GRPC_CASES = 150


def _post(client, case, seed):
    body = case.body or valid_body(case.content_type, seed)
    headers = {"Content-Type": case.content_type}
    if case.encoding:
        headers["Content-Encoding"] = case.encoding
    return client.post("/v1/traces", content=body, headers=headers)


def _check(outcomes, case, status, reason):
    outcomes[(case.kind, str(status))] += 1
    assert status in (200, 400, 413, 415), (case.kind, status, reason)
    if case.kind == "valid":
        assert status == 200, reason
    if case.kind in ("random-json", "truncated-json", "bad-gzip") and status != 200:
        assert reason, case.kind  # a 4xx always says why
    if case.kind == "gzip-bomb":
        assert status == 413
    if case.kind == "wrong-content-type":
        assert status == 415


def test_http_fuzz_in_process(store, encoder, capsys):
    writer = BatchWriter(store, max_delay=0.01)
    client = TestClient(create_app(Ingest(writer, encoder, max_body_bytes=20 * 1024 * 1024)))
    outcomes: collections.Counter = collections.Counter()
    try:
        for seed, case in enumerate(cases(seed=1234, count=HTTP_CASES)):
            response = _post(client, case, seed)
            _check(outcomes, case, response.status_code, response.content)
        big = client.post("/v1/traces", content=huge_attribute_request().SerializeToString(),
                          headers={"Content-Type": PB})
        many = client.post("/v1/traces", content=many_attributes_request().SerializeToString(),
                           headers={"Content-Type": PB})
        assert (big.status_code, many.status_code) == (200, 200)
    finally:
        writer.close()
    stored = {r["response_id"] for r in store.query("SELECT response_id FROM llm_calls")}
    assert {"msg_huge", "msg_many"} <= stored
    with capsys.disabled():
        print(f"\nHTTP fuzz outcomes: {dict(sorted(outcomes.items()))}")


@pytest.mark.integration
def test_grpc_and_http_fuzz_against_serve(tmp_path, capsys):
    services = ["trace.v1.TraceService", "logs.v1.LogsService", "metrics.v1.MetricsService"]
    outcomes: collections.Counter = collections.Counter()
    with serving(tmp_path / "data") as server:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            for seed, case in enumerate(cases(seed=99, count=GRPC_CASES)):
                if case.content_type != PB or case.encoding or case.kind == "valid":
                    continue
                service = services[seed % 3]
                export = channel.unary_unary(
                    f"/opentelemetry.proto.collector.{service}/Export")
                try:
                    export(case.body, timeout=30)
                    outcomes[(case.kind, "OK")] += 1
                except grpc.RpcError as err:
                    outcomes[(case.kind, err.code().name)] += 1
                    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (case.kind, err)
                    assert err.details()
            with pytest.raises(grpc.RpcError) as too_big:
                channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")(
                    b"\0" * (21 * 1024 * 1024), timeout=30)
            assert too_big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with httpx.Client(base_url=server.otlp, timeout=30) as client:
            for seed, case in enumerate(cases(seed=7, count=60)):
                response = _post(client, case, seed)
                _check(outcomes, case, response.status_code, response.content)
        assert server.proc.poll() is None  # still running
        ok = httpx.post(f"{server.otlp}/v1/traces", content=valid_body(PB, 1),
                        headers={"Content-Type": PB}, timeout=30)
        assert ok.status_code == 200
    with capsys.disabled():
        print(f"\ngRPC + HTTP fuzz outcomes against serve: {dict(sorted(outcomes.items()))}")
