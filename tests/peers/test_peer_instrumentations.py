"""Real output of each instrumentation of the anthropic SDK (installed from PyPI, run
against the emulator) normalises to the same llm_calls rows, equal to what the
emulator actually billed; two instrumentations on one call still give one row."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import REPO
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows
from tokentrail.emulator import running_emulator

pytestmark = pytest.mark.sdk

MODULES = {
    "anthropic-sdk": "anthropic._tracing",
    "openllmetry": "opentelemetry.instrumentation.anthropic",
    "openinference": "openinference.instrumentation.anthropic",
    "otel-contrib": "opentelemetry.instrumentation.genai.anthropic",
}
BUCKETS = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "output_tokens")


def _available(source: str) -> bool:
    try:
        return all(importlib.util.find_spec(MODULES[s]) is not None for s in source.split("+"))
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _capture(source: str, base_url: str, tmp_path) -> ExportTraceServiceRequest:
    out = tmp_path / f"{source}.pb"
    subprocess.run(
        [sys.executable, "-m", "tests.peers.capture", source, base_url, f"sk-ant-{source}",
         str(out)],
        check=True, cwd=REPO, timeout=120,
    )
    return ExportTraceServiceRequest.FromString(out.read_bytes())


@pytest.fixture(scope="module")
def emulator():
    with running_emulator() as emu:
        yield emu


def _billed(emu, api_key: str) -> list[list]:
    """What the emulator itself answered, per call: Anthropic's buckets and stop reason."""
    rows = []
    for record in emu.calls():
        if record.path.startswith("/v1/messages") and record.usage and \
                record.workspace == api_key:
            usage = record.usage
            creation = usage.get("cache_creation") or {}
            rows.append([usage["input_tokens"], usage["cache_read_input_tokens"],
                         creation.get("ephemeral_5m_input_tokens", 0),
                         creation.get("ephemeral_1h_input_tokens", 0), usage["output_tokens"],
                         record.stop_reason])
    return rows


@pytest.mark.parametrize("source", ["anthropic-sdk", "openllmetry", "openinference",
                                    "otel-contrib", "anthropic-sdk+openllmetry"])
def test_peer_normalises_to_what_was_billed(source, emulator, store, tmp_path):
    if not _available(source):
        pytest.skip(f"{source} is not available in this venv: scripts/test.sh installs the "
                    "peers extra with anthropic 2.x only, and 0.x has no native tracing")
    request = _capture(source, emulator.base_url, tmp_path)
    store.insert("otel_traces", trace_rows(request), TRACE_COLUMNS)
    calls = store.query("SELECT * FROM llm_calls ORDER BY timestamp")
    billed = _billed(emulator, f"sk-ant-{source}")
    assert len(billed) == 3
    assert [[*(c[b] for b in BUCKETS), c["stop_reason"]] for c in calls] == billed
    assert billed[1][1] > 0, "the second turn should read the cached system prompt"
    expected_source = source.split("+")[0]
    assert {c["source"] for c in calls} == {expected_source}
    assert all(c["model"].startswith("claude-sonnet-4-5") for c in calls)
