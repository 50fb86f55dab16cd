"""Raw spans -> llm_calls: each source's token convention, one row per call."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import CLAUDE_CODE_FIXTURES
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tokentrail.collector.decode import JSON, parse
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows

BUCKETS = ("input_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "output_tokens")


def _ingest(store, request: ExportTraceServiceRequest) -> None:
    store.insert("otel_traces", trace_rows(request), TRACE_COLUMNS)


def _calls(store):
    return store.query("SELECT * FROM llm_calls ORDER BY timestamp, call_id")


def test_claude_code_fixture_gives_two_calls_with_disjoint_buckets(store):
    """docs/facts.md §5: two API calls, each 40 input / 2100 5m-write / 24500 read / 55 output."""
    body = (CLAUDE_CODE_FIXTURES / "traces-0.otlp.json").read_bytes()
    _ingest(store, parse(body, JSON, ExportTraceServiceRequest))
    calls = _calls(store)
    assert len(calls) == 2
    for call in calls:
        assert [call[b] for b in BUCKETS] == [40, 24500, 2100, 0, 55]
        assert call["source"] == "claude-code-trace"
        assert call["run_id"] == "5a60c6c7-a475-4746-afc7-4f62b26fa781"
        assert call["model"] == "claude-sonnet-4-5"
    assert [c["stop_reason"] for c in calls] == ["tool_use", "end_turn"]


def test_inclusive_convention_is_converted_to_anthropic_buckets(store):
    attrs = anthropic_call_attrs(response_id="msg_a", uncached=40, read=24500, write=2100,
                                 write_1h=600, output=55, conversation="conv-1")
    assert attrs["gen_ai.usage.input_tokens"] == 26640
    _ingest(store, trace_request([span(attrs)]))
    (call,) = _calls(store)
    assert [call[b] for b in BUCKETS] == [40, 24500, 1500, 600, 55]
    assert call["cache_write_tokens"] == 2100
    assert call["source"] == "anthropic-sdk"
    assert call["run_id"] == "conv-1"
    assert call["response_id"] == "msg_a"
    assert call["stop_reason"] == "end_turn"
    assert call["duration_ms"] == pytest.approx(1500.0)
    assert call["timestamp"].timestamp() == pytest.approx(NOW_NS / 1e9)


def test_openinference_and_openllmetry_names(store):
    openinference = {
        "llm.provider": "anthropic", "llm.model_name": "claude-haiku-4-5",
        "llm.token_count.prompt": 1000, "llm.token_count.completion": 7,
        "llm.token_count.prompt_details.cache_read": 800,
        "llm.token_count.prompt_details.cache_write": 150,
    }
    openllmetry = {
        "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 7,
        "gen_ai.usage.cache_read_input_tokens": 800,
        "gen_ai.usage.cache_creation_input_tokens": 150, "llm.request.type": "chat",
    }
    _ingest(store, trace_request([span(openinference)], scope="openinference.anthropic"))
    _ingest(store, trace_request([span(openllmetry)],
                                 scope="opentelemetry.instrumentation.anthropic"))
    calls = _calls(store)
    assert sorted(c["source"] for c in calls) == ["openinference", "openllmetry"]
    for call in calls:
        assert [call[b] for b in BUCKETS] == [50, 800, 150, 0, 7]


def test_two_reports_of_one_call_are_one_row_keeping_the_richer(store):
    """SDK native span and another instrumentation's span for the same response id."""
    attrs = anthropic_call_attrs(response_id="msg_dup", uncached=1, read=2, write=3, output=4)
    other = {
        "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.id": "msg_dup", "gen_ai.usage.prompt_tokens": 6,
        "gen_ai.usage.completion_tokens": 4, "gen_ai.usage.cache_read_input_tokens": 2,
        "gen_ai.usage.cache_creation_input_tokens": 3,
    }
    _ingest(store, trace_request([span(other)], scope="opentelemetry.instrumentation.anthropic"))
    _ingest(store, trace_request([span(attrs)]))
    _ingest(store, trace_request([span(attrs)]))  # an exporter retry of the same span
    calls = _calls(store)
    assert len(calls) == 1
    assert calls[0]["source"] == "anthropic-sdk"
    assert [calls[0][b] for b in BUCKETS] == [1, 2, 3, 0, 4]


def test_non_llm_spans_are_not_calls(store):
    tool = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "execute_tool"}
    http = {"http.method": "GET", "input_tokens": 5}
    other_vendor = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-5",
                    "gen_ai.usage.input_tokens": 10}
    _ingest(store, trace_request([span(tool), span(http), span(other_vendor)], scope="x"))
    assert _calls(store) == []


def test_tokentrail_attributes_are_carried(store):
    attrs = anthropic_call_attrs(response_id="msg_t", uncached=1, read=0, write=0, output=1) | {
        "tokentrail.run.id": "run-7", "tokentrail.run.name": "triage",
        "tokentrail.run.parent_id": "run-1", "tokentrail.turn": 3,
        "tokentrail.prefix.message_hashes": ["aa", "bb"],
        "tokentrail.prefix.block_tokens": [10, 20],
        "tokentrail.cache.breakpoints": [1], "tokentrail.cache.ttls": ["5m"],
        "tokentrail.cache.miss_reason": "system_changed",
        "tokentrail.prefix.message_count": 42, "tokentrail.prefix.block_count": 90,
        "tokentrail.prefix.tokens": 123456, "tokentrail.cache.breakpoint_tokens": [4096],
        "tokentrail.cache.automatic": True, "tokentrail.prefix.change.level": "system",
        "tokentrail.prefix.change.params": ["tool_choice"],
        "tokentrail.prefix.change.message": 0, "tokentrail.prefix.change.char": 212,
        "tokentrail.run.automatic": True, "tokentrail.batch.id": "msgbatch_1",
        "tokentrail.batch.custom_id": "item-3",
    }
    _ingest(store, trace_request([span(attrs)]))
    (call,) = _calls(store)
    assert (call["run_id"], call["run_name"], call["parent_run_id"], call["turn"]) == (
        "run-7", "triage", "run-1", 3)
    assert call["source"] == "tokentrail"
    assert call["prefix_message_hashes"] == ["aa", "bb"]
    assert call["prefix_block_tokens"] == [10, 20]
    assert call["cache_breakpoints"] == [1]
    assert call["cache_ttls"] == ["5m"]
    assert call["cache_miss_reason"] == "system_changed"
    assert (call["prefix_message_count"], call["prefix_block_count"], call["prefix_tokens"]) == (
        42, 90, 123456)
    assert call["cache_breakpoint_tokens"] == [4096]
    assert call["cache_automatic"] is True and call["run_automatic"] is True
    assert (call["prefix_change_level"], call["prefix_change_params"]) == ("system",
                                                                           ["tool_choice"])
    assert (call["prefix_change_message"], call["prefix_change_block"],
            call["prefix_change_char"]) == (0, None, 212)
    assert (call["batch_id"], call["batch_custom_id"]) == ("msgbatch_1", "item-3")


def test_list_attributes_as_json_arrays_or_comma_strings(store):
    """OTLP arrays (stored as JSON) and tokentrail's compact comma-separated form give
    the same columns; absent lists are empty."""
    base = anthropic_call_attrs(response_id="msg_l1", uncached=1, read=0, write=0, output=1)
    as_arrays = base | {"tokentrail.run.id": "r", "tokentrail.prefix.message_hashes": ["a1", "b2"],
                        "tokentrail.prefix.block_tokens": [10, 20]}
    as_strings = base | {"gen_ai.response.id": "msg_l2", "tokentrail.run.id": "r",
                         "tokentrail.prefix.message_hashes": "a1,b2",
                         "tokentrail.prefix.block_tokens": "10,20"}
    _ingest(store, trace_request([span(as_arrays), span(as_strings)]))
    calls = _calls(store)
    assert [(c["prefix_message_hashes"], c["prefix_block_tokens"]) for c in calls] == [
        (["a1", "b2"], [10, 20]), (["a1", "b2"], [10, 20])]
    assert all(c["cache_ttls"] == [] and c["prefix_block_hashes"] == [] for c in calls)


def test_inconsistent_inclusive_counts_never_underflow(store):
    attrs = anthropic_call_attrs(response_id="msg_u", uncached=0, read=100, write=0, output=1)
    attrs["gen_ai.usage.input_tokens"] = 10  # claims to include reads, but is smaller
    _ingest(store, trace_request([span(attrs)]))
    (call,) = _calls(store)
    assert call["input_tokens"] == 0
    assert call["cache_read_tokens"] == 100
