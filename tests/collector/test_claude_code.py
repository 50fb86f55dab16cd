"""Claude Code's real telemetry (tests/fixtures/claude-code-2.1.328, OTLP/JSON as sent)
and its transcript: two API calls, counted once however many signals report them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CLAUDE_CODE_FIXTURES
from tokentrail.collector import claude_code_import as cci
from tokentrail.collector.ingest import Ingest
from tokentrail.collector.otlp_http import create_app
from tokentrail.collector.writer import BatchWriter

SESSION = "5a60c6c7-a475-4746-afc7-4f62b26fa781"
BUCKETS = ("input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
           "cache_read_tokens", "output_tokens")
EXPECTED = [40, 2100, 0, 24500, 55]  # docs/facts.md §5
TRANSCRIPT = CLAUDE_CODE_FIXTURES / "session-transcript.jsonl"


@pytest.fixture
def post(store, encoder):
    writer = BatchWriter(store, max_delay=0.01)
    client = TestClient(create_app(Ingest(writer, encoder)))

    def send(signal: str, filename: str) -> None:
        body = (CLAUDE_CODE_FIXTURES / filename).read_bytes()
        response = client.post(f"/v1/{signal}", content=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        assert response.json() == {}  # no partial success: everything stored

    yield send
    writer.close()


def _calls(store):
    return store.query("SELECT * FROM llm_calls WHERE run_id = {s:String} ORDER BY timestamp",
                       {"s": SESSION})


def _import_transcript(store, path=TRANSCRIPT) -> cci.ImportResult:
    return cci.import_transcripts([path], cci.StoreTarget(store))


def test_every_signal_as_sent_gives_two_calls(post, store):
    for signal, filename in [("traces", "traces-0.otlp.json"), ("logs", "logs-0.otlp.json"),
                             ("logs", "logs-1.otlp.json"), ("metrics", "metrics-0.otlp.json")]:
        post(signal, filename)
    calls = _calls(store)
    assert len(calls) == 2
    for call in calls:
        assert [call[b] for b in BUCKETS] == EXPECTED
        assert call["source"] == "claude-code-event"
        assert call["model"] == "claude-sonnet-4-5"
        assert call["prompt_id"] == "1be1c66f-dca4-4bb1-88a8-6b5b3262bddd"
        # Claude Code's own cost: 40*3 + 2100*3.75 + 24500*0.30 + 55*15 per million.
        assert call["reported_cost_usd"] == pytest.approx(0.01617)
    # The span, the event (and the transcript below) all reported these calls.
    sources = {r["source"] for r in store.query(
        "SELECT DISTINCT source FROM llm_call_reports")}
    assert sources == {"claude-code-event", "claude-code-trace", "claude-code-metric"}

    assert _import_transcript(store).calls_written == 2
    assert len(_calls(store)) == 2


def test_raw_tables_keep_everything(post, store):
    post("logs", "logs-0.otlp.json")
    post("metrics", "metrics-0.otlp.json")
    logs = store.query("SELECT count() AS n FROM otel_logs")[0]["n"]
    sent = sum(len(s["logRecords"]) for r in json.loads(
        (CLAUDE_CODE_FIXTURES / "logs-0.otlp.json").read_text())["resourceLogs"]
        for s in r["scopeLogs"])
    assert logs == sent
    usage = store.query(
        "SELECT Attributes['type'] AS type, sum(Value) AS v FROM otel_metrics_sum "
        "WHERE MetricName = 'claude_code.token.usage' GROUP BY type ORDER BY type")
    assert {r["type"]: r["v"] for r in usage} == {
        "cacheCreation": 4200, "cacheRead": 49000, "input": 80, "output": 110}


def test_metrics_alone_give_the_session_totals(post, store):
    """A session that only exported metrics: one row per export interval, with the
    session's totals (the fixture's cost-state says 80/4200/49000/110, $0.03234)."""
    post("metrics", "metrics-0.otlp.json")
    post("metrics", "metrics-0.otlp.json")  # an exporter retry: still counted once
    (row,) = _calls(store)
    assert row["source"] == "claude-code-metric"
    assert [row[b] for b in BUCKETS] == [80, 4200, 0, 49000, 110]
    assert row["reported_cost_usd"] == pytest.approx(0.03234)
    post("logs", "logs-0.otlp.json")  # once an event arrives, the events count instead
    assert [c["source"] for c in _calls(store)] == ["claude-code-event"]


def test_transcript_alone_gives_the_same_two_calls(store):
    result = _import_transcript(store)
    assert (result.calls_found, result.calls_written) == (2, 2)
    calls = _calls(store)
    assert [[c[b] for b in BUCKETS] for c in calls] == [EXPECTED, EXPECTED]
    assert [c["stop_reason"] for c in calls] == ["tool_use", "end_turn"]
    assert all(c["source"] == "claude-code-transcript" for c in calls)
    # Re-import is idempotent, in the raw table too.
    assert _import_transcript(store).calls_written == 0
    assert store.query("SELECT count() AS n FROM otel_logs")[0]["n"] == 2


def test_parallel_tool_calls_sharing_a_request_count_once(tmp_path, store):
    lines = [json.loads(line) for line in TRANSCRIPT.read_text().splitlines()]
    first = next(e for e in lines if e.get("type") == "assistant")
    twin = json.loads(json.dumps(first))
    twin["uuid"] = "another-line-of-the-same-response"
    twin["message"]["content"] = [{"type": "tool_use", "id": "toolu_02", "name": "Bash",
                                   "input": {"command": "echo two"}}]
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in [first, twin]) + "\n{broken json\n")
    assert _import_transcript(store, path).calls_found == 1
    assert len(_calls(store)) == 1
