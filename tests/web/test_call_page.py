"""The call detail page and its JSON twin: tokens and cost per bucket, timing, and the
prompt prefix part by part against the previous call of the run; in-process through the
ASGI test client over a real chDB store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.analysis.calls import Call, insert, loop
from tests.analysis.conftest import collector
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)
from tests.otlp import NOW_NS, anthropic_call_attrs, span, trace_request
from tests.web.page_dom import parse
from tests.web.run_agents import timestamp_agent
from tokentrail.collector.rows import TRACE_COLUMNS, trace_rows
from tokentrail.store import Store
from tokentrail.web import formatting
from tokentrail.web.app import create_app
from tokentrail.web.prefix_diff import compare


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Store]:
    """One store for the module (see tests/web/test_run_page.py)."""
    s = Store.open(f"chdb://{tmp_path_factory.mktemp('call-page') / 'data'}")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def otlp(store):
    with collector(store) as poster:
        yield poster


@pytest.fixture(scope="module")
def web(store):
    return TestClient(create_app(store))


def _parts(page) -> dict[tuple[str, str], object]:
    rows = page.by_id("prefix-diff").find_all("tr", "part")
    return {(r.attrs["data-part"], r.attrs.get("data-index", "")): r for r in rows}


def test_the_turn_5_call_shows_where_the_system_prompt_changed(
        web, client, exporter, otlp):  # noqa: F811
    ids = timestamp_agent(client, exporter, otlp, name="call-page-agent")["ids"]
    data = web.get(f"/api/calls/{ids[4]}").json()
    call, previous = data["call"], data["previous"]
    assert previous["call_id"] == ids[3] and call["position"] == 5
    assert [(e["turn"], e["cause"]) for e in data["events"]] == [(5, "system_changed")]
    # what the instrumentation found in the agent process
    assert call["prefix_change_level"] == "system" and call["prefix_change_hint"] == "timestamp"
    block, char = call["prefix_change_block"], call["prefix_change_char"]
    assert block == 0 and char > 12_000  # the clock sits after the 3000-token handbook

    page = parse(web.get(f"/calls/{ids[4]}").text)
    assert page.find("h1").text.startswith("Turn 5")
    event = page.find("section", "event")
    assert event.attrs["data-cause"] == "system_changed" and "timestamp" in event.text
    diff = page.by_id("prefix-diff")
    summary = " ".join(diff.find(None, "first-difference-summary").text.split())
    assert f"First difference: system, block {block}, char {char:,}." in summary
    assert "looks like a timestamp" in summary
    parts = _parts(page)
    states = {key: row.attrs["data-state"] for key, row in parts.items()}
    assert states[("model", "")] == states[("tools", "")] == states[("params", "")] == "same"
    assert states[("system", "")] == "changed"
    assert "first-difference" in parts[("system", "")].classes
    assert "first-difference" in parts[("block", str(block))].classes
    assert states[("block", str(block))] == "changed"
    # the 7 messages the previous call sent are unchanged; its answer and the new
    # question are new
    messages = sorted(int(i) for kind, i in parts if kind == "message")
    assert messages == list(range(9))  # 4 turns x (question, answer) + the new question
    assert [states[("message", str(i))] for i in messages] == ["same"] * 7 + ["new"] * 2
    # breakpoints: the system block and the newest message, 5 minutes each
    marked = [(r.attrs["data-index"], r.find("span", "bp").text) for r in parts.values()
              if r.find_all("span", "bp")]
    assert marked == [("0", "breakpoint 5m"), (str(call["prefix_block_count"] - 1),
                                               "breakpoint 5m")]
    assert [int(r.attrs["data-block"]) for r in diff.find("table", "breakpoints")
            .find("tbody").find_all("tr")] == call["cache_breakpoints"]
    # contents were not captured: hashes and sizes only, and the page says so
    assert "were not captured" in page.by_id("contents").text
    assert parts[("system", "")].find_all("td", "hash")[0].text == call["prefix_system_hash"]

    # the JSON says the same part by part
    prefix = data["prefix"]
    assert prefix["change_level"] == "system" and prefix["change_hint"] == "timestamp"
    assert {(p["kind"], p["state"]) for p in prefix["parts"] if p["kind"] in
            ("model", "tools", "system")} == {("model", "same"), ("tools", "same"),
                                              ("system", "changed")}


def test_after_the_change_the_prefix_reads_same_and_the_first_call_has_no_previous(
        web, client, exporter, otlp):  # noqa: F811
    ids = timestamp_agent(client, exporter, otlp, name="call-page-agent-2", turns=6)["ids"]
    page = parse(web.get(f"/calls/{ids[5]}").text)
    parts = _parts(page)
    assert parts[("system", "")].attrs["data-state"] == "same"
    assert not page.find_all("section", "event")
    assert "no change of the prefix" in page.by_id("prefix-diff").text
    first = parse(web.get(f"/calls/{ids[0]}").text)
    assert "first call of the run" in first.by_id("prefix-diff").text
    assert {r.attrs["data-state"] for r in _parts(first).values()} <= {"unknown"}
    assert web.get(f"/api/calls/{ids[0]}").json()["previous"] is None


def test_cost_per_bucket_and_timing(store, web):
    calls = loop(3)
    calls[2].uncached = 1234
    calls[2].at = calls[1].at + 95
    insert(store, "priced", calls)
    data = web.get("/api/calls/priced-3").json()
    call = data["call"]
    assert data["gap_seconds"] == 95
    page = parse(web.get("/calls/priced-3").text)
    rows = {r.find("td").text: r for r in page.find("table", "buckets").find("tbody")
            .find_all("tr")}
    cells = [td.text for td in rows["Uncached input"].find_all("td")]
    assert cells == ["Uncached input", "1,234", "$3.00", formatting.usd(call["cost_input_usd"])]
    assert call["cost_input_usd"] == pytest.approx(1234 * 3 / 1e6)  # docs/facts.md §2
    read = [td.text for td in rows["Cache read"].find_all("td")]
    assert read[1] == f"{call['cache_read_tokens']:,}" and read[2] == "$0.30"
    total = page.find("table", "buckets").find("tfoot").text
    assert formatting.usd(call["cost_usd"]) in total
    timing = page.find("dl", "kv")
    facts = dict(zip((d.text for d in timing.find_all("dt")),
                     (d.text for d in timing.find_all("dd")), strict=True))
    assert facts["Since previous call"] == "1m 35s" and facts["Duration"] == "1 s"


def test_the_apis_own_diagnostics_are_shown(store, web):
    calls = loop(4)
    calls[3] = Call(4, calls[3].at, read=0, write_5m=calls[3].read + calls[3].write_5m,
                    uncached=0, system="S2", messages=calls[3].messages,
                    breakpoints=calls[3].breakpoints, change="system", change_block=1,
                    change_char=40, hint="uuid", api_reason="system_changed", api_missed=3600)
    insert(store, "diagnosed", calls)
    page = parse(web.get("/calls/diagnosed-4").text)
    summary = " ".join(page.find(None, "first-difference-summary").text.split())
    assert "The API's diagnostics: system_changed, 3,600 input tokens missed." in summary
    assert "looks like a uuid" in summary
    assert web.get("/api/calls/diagnosed-4").json()["prefix"]["cache_miss_reason"] == \
        "system_changed"


def test_a_call_without_fingerprints_is_a_page_not_an_error(store, web):
    attrs = anthropic_call_attrs(response_id="msg_plain_1", uncached=50, read=0, write=0,
                                 output=5, conversation="plain")
    attrs2 = anthropic_call_attrs(response_id="msg_plain_2", uncached=60, read=0, write=0,
                                  output=5, conversation="plain")
    spans = [span(attrs, start_ns=NOW_NS), span(attrs2, start_ns=NOW_NS + 10**9)]
    store.insert("otel_traces", trace_rows(trace_request(spans)), TRACE_COLUMNS)
    response = web.get("/calls/msg_plain_2")
    assert response.status_code == 200
    page = parse(response.text)
    diff = page.by_id("prefix-diff")
    assert diff.attrs["data-fingerprinted"] == "false"
    assert "recorded no prefix fingerprints" in diff.text
    states = {r.attrs["data-part"]: r.attrs["data-state"] for r in diff.find_all("tr", "part")}
    assert states == {"model": "same", "params": "unknown", "tools": "unknown",
                      "system": "unknown"}
    assert "This source reports no change of the prefix." in diff.text


def test_a_model_change_without_fingerprints_is_named(store, web):
    """The model is known whatever the source: its change is said, the rest unknown."""
    spans = [span(anthropic_call_attrs(response_id=f"msg_switch_{i}", uncached=50, read=0,
                                       write=0, output=5, conversation="switch", model=model),
                  start_ns=NOW_NS + i * 10**9)
             for i, model in enumerate(("claude-sonnet-4-5", "claude-haiku-4-5"))]
    store.insert("otel_traces", trace_rows(trace_request(spans)), TRACE_COLUMNS)
    diff = parse(web.get("/calls/msg_switch_1").text).by_id("prefix-diff")
    states = {r.attrs["data-part"]: r.attrs["data-state"] for r in diff.find_all("tr", "part")}
    assert states == {"model": "changed", "params": "unknown", "tools": "unknown",
                      "system": "unknown"}
    summary = diff.find_all("div", "first-difference-summary")[0].text
    assert "The model changed" in summary and "reports no change" not in summary


def test_captured_contents_are_shown_as_text(store, web):
    """An agent that opted in to content capture: the span's GenAI content attributes
    are on the page (escaped) and in the JSON; a call without them says so."""
    attrs = anthropic_call_attrs(response_id="msg_captured", uncached=50, read=0, write=0,
                                 output=5, conversation="captured")
    attrs["gen_ai.system_instructions"] = '[{"type":"text","content":"You are <b>terse</b>."}]'
    attrs["gen_ai.input.messages"] = '[{"role":"user","parts":[{"content":"hi & bye"}]}]'
    store.insert("otel_traces", trace_rows(trace_request([span(attrs)])), TRACE_COLUMNS)
    text = web.get("/calls/msg_captured").text
    contents = parse(text).by_id("contents")
    assert [h.text for h in contents.find_all("h3")] == ["System", "Input messages"]
    assert [p.text for p in contents.find_all("pre")] == [
        attrs["gen_ai.system_instructions"], attrs["gen_ai.input.messages"]]
    assert "<b>terse</b>" not in text and "&lt;b&gt;terse&lt;/b&gt;" in text
    assert web.get("/api/calls/msg_captured").json()["contents"] == [
        {"part": "System", "text": attrs["gen_ai.system_instructions"]},
        {"part": "Input messages", "text": attrs["gen_ai.input.messages"]}]
    plain = anthropic_call_attrs(response_id="msg_uncaptured", uncached=50, read=0, write=0,
                                 output=5, conversation="uncaptured")
    store.insert("otel_traces", trace_rows(trace_request([span(plain)])), TRACE_COLUMNS)
    assert web.get("/api/calls/msg_uncaptured").json()["contents"] == []
    assert "were not captured" in parse(web.get("/calls/msg_uncaptured").text).by_id(
        "contents").text


def test_the_contents_read_selects_each_attribute_in_order():
    """The read's SQL is spelt out (no formatted SQL): its c0, c1, ... columns must stay
    the CONTENT_ATTRIBUTES in order, or the page would put a text under a wrong heading."""
    from tokentrail.store import call_contents

    sql = call_contents._SQL
    positions = [sql.index(f"SpanAttributes['{name}'] AS c{i}")
                 for i, (name, _) in enumerate(call_contents.CONTENT_ATTRIBUTES)]
    assert positions == sorted(positions)
    assert f"c{len(positions)}" not in sql


def test_hostile_values_are_escaped_on_the_call_page(store, web):
    evil = "<script>alert(1)</script>"
    attrs = anthropic_call_attrs(response_id="msg_evil", uncached=5, read=0, write=0, output=1,
                                 model=evil, conversation=evil)
    store.insert("otel_traces", trace_rows(trace_request([span(attrs)], service=evil)),
                 TRACE_COLUMNS)
    text = web.get("/calls/msg_evil").text
    assert evil not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert web.get("/api/calls/msg_evil").json()["call"]["model"] == evil


def test_unknown_calls_are_404(web):
    response = web.get("/calls/msg_nope")
    assert response.status_code == 404 and "msg_nope" in response.text
    assert web.get("/api/calls/msg_nope").status_code == 404
    schema = web.get("/api/openapi.json").json()
    assert "/api/calls/{call_id}" in schema["paths"]


# --- the comparison itself (no store) --------------------------------------------------

def test_compare_reads_windows_at_their_absolute_positions():
    previous = {"model": "m", "prefix_tools_hash": "T", "prefix_system_hash": "S",
                "prefix_params_hash": "P", "prefix_message_hashes": ["b", "c", "d"],
                "prefix_message_count": 4, "prefix_block_hashes": ["x", "y"],
                "prefix_block_count": 6}
    call = {**previous, "prefix_message_hashes": ["c", "D", "e"], "prefix_message_count": 5,
            "prefix_block_hashes": ["y", "z", "w"], "prefix_block_count": 8,
            "prefix_block_tokens": [10, 20, 30], "cache_breakpoints": [1, 7],
            "cache_ttls": ["1h", ""], "cache_breakpoint_tokens": [900, 2000],
            "prefix_change_level": "messages", "prefix_change_message": 3}
    diff = compare(call, previous)
    by_key = {(p.kind, p.index): p for p in diff.parts}
    # messages: window 2..4 against the previous window 1..3 (count 4)
    assert [by_key["message", i].state for i in (2, 3, 4)] == ["same", "changed", "new"]
    assert by_key["message", 3].first_difference
    # blocks: window 5..7 against the previous window 4..5 (count 6)
    assert [by_key["block", i].state for i in (5, 6, 7)] == ["same", "new", "new"]
    assert [by_key["block", i].tokens for i in (5, 6, 7)] == [10, 20, 30]
    assert by_key["block", 7].breakpoint_ttl == "5m"  # no TTL given: the default
    assert by_key["block", 7].breakpoint_tokens == 2000
    assert [(b.block, b.ttl, b.in_window) for b in diff.breakpoints] == \
        [(1, "1h", False), (7, "5m", True)]


def test_compare_says_unknown_outside_the_previous_window_and_without_a_previous():
    previous = {"prefix_message_hashes": ["k"], "prefix_message_count": 30,
                "prefix_system_hash": "S"}
    call = {"prefix_message_hashes": ["a", "k", "n"], "prefix_message_count": 31,
            "prefix_system_hash": "S"}
    parts = {(p.kind, p.index): p.state for p in compare(call, previous).parts}
    assert (parts["message", 28], parts["message", 29], parts["message", 30]) == \
        ("unknown", "same", "new")
    alone = compare(call, None)
    assert not alone.has_previous
    assert {p.state for p in alone.parts} == {"unknown"}
    empty = compare({}, None)
    assert not empty.fingerprinted and [p.kind for p in empty.parts] == \
        ["model", "params", "tools", "system"]
