"""``context_dead_weight`` (issue 13): agents on the real SDK with tokentrail's
instrumentation against the emulator, spans through the real ingest path. An agent that
drags a 50,000-token tool result along for 12 calls gets one finding whose
``savings_usd`` equals the rule's alternative re-priced here from the emulator's usage
and the published rates (docs/facts.md §2), without tokentrail's price code; agents
that drop the block after using it, or whose blocks are small, get none. And the
instrumentation's large-blocks attribute, which is what lets the rule see a block that
the 20-block window lost long ago."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.analysis.insights_agents import END, START, findings, only, price
from tests.emulator.helpers import text_of
from tests.instrumentation.conftest import (  # noqa: F401  (fixtures used by name)
    client,
    emu,
    exporter,
    instrumentor,
    provider,
)
from tokentrail import semconv as sc
from tokentrail.analysis import insights_dead_weight as dw
from tokentrail.instrumentation import large_blocks, run, threads
from tokentrail.instrumentation.config import Settings
from tokentrail.instrumentation.fingerprint import block_fingerprint
from tokentrail.instrumentation.runs import Run
from tokentrail.instrumentation.tracker import Tracker

MODEL = "claude-sonnet-4-6"
EPH = {"type": "ephemeral"}
CALLS = 14
TOOL_AT = 3          # the call that first sends the tool result
BLOCK_TOKENS = 50_000


def _tool_result(run_id: str, tokens: int) -> dict:
    return {"type": "tool_result", "tool_use_id": f"toolu_{run_id}",
            "content": text_of(tokens, f"{run_id}-log")}


def _agent(api, run_id: str, *, block_tokens: int = BLOCK_TOKENS,
           replace_at: int | None = None, summary_tokens: int = 0) -> list:
    """A tool loop on a cached 2,000-token system prompt with a breakpoint on the last
    block of every request: call 2's answer asks for a file, call 3 sends its
    ``block_tokens``-token content as a tool result, and every later call carries it,
    unless ``replace_at``: from that call on the result is replaced by a summary of
    ``summary_tokens`` tokens. Returns each call's usage."""
    system = [{"type": "text", "text": text_of(2000, "policy"), "cache_control": EPH}]
    messages: list = [{"role": "user", "content": [
        {"type": "text", "text": text_of(300, f"{run_id}-task")}]}]
    usages = []
    result_at = 2 * (TOOL_AT - 1)  # the tool result's message: after a question and answer per call
    with run("agent", run_id=run_id):
        for call in range(1, CALLS + 1):
            if call == replace_at:
                messages[result_at]["content"] = [{
                    "type": "tool_result", "tool_use_id": f"toolu_{run_id}",
                    "content": text_of(summary_tokens, f"{run_id}-summary")}]
            sent = [dict(m) for m in messages]
            last = dict(sent[-1]["content"][-1], cache_control=EPH)
            sent[-1] = {"role": "user", "content": [*sent[-1]["content"][:-1], last]}
            reply = api.messages.create(model=MODEL, max_tokens=40, system=system,
                                        messages=sent)
            usages.append(reply.usage)
            if call + 1 == TOOL_AT:
                messages.append({"role": "assistant", "content": [{
                    "type": "tool_use", "id": f"toolu_{run_id}", "name": "read_file",
                    "input": {"path": "build.log"}}]})
                assert len(messages) == result_at
                messages.append({"role": "user", "content": [_tool_result(run_id,
                                                                          block_tokens)]})
            else:
                messages.append({"role": "assistant", "content": reply.content})
                messages.append({"role": "user", "content": [
                    {"type": "text", "text": text_of(100, f"{run_id}-q{call}")}]})
    return usages


def _bill(usages) -> float:
    return sum(price(MODEL, uncached=u.input_tokens, read=u.cache_read_input_tokens,
                     w5=u.cache_creation_input_tokens, output=u.output_tokens)
               for u in usages)


def _rule_alternative(usages, block_tokens: int) -> tuple[float, float, int]:
    """The rule's alternative, re-priced from the usage (README, "Insights"): from call
    ``TOOL_AT + KEEP_CALLS`` on the block is a summary; each of those calls sends the
    difference fewer tokens, from its cache reads first; the first of them writes its
    remaining read prefix again (5m) and pays the summary as output.
    Returns (cost of the affected calls, their alternative cost, how many)."""
    removed = block_tokens - dw.SUMMARY_TOKENS
    first = TOOL_AT + dw.KEEP_CALLS
    actual = alternative = 0.0
    affected = usages[first - 1:]
    for i, u in enumerate(affected):
        read, w5, uncached = (u.cache_read_input_tokens, u.cache_creation_input_tokens,
                              u.input_tokens)
        assert read >= removed  # the block sat in the cached prefix
        actual += price(MODEL, uncached=uncached, read=read, w5=w5, output=u.output_tokens)
        left = read - removed
        if i == 0:
            alternative += price(MODEL, uncached=uncached, w5=w5 + left,
                                 output=u.output_tokens + dw.SUMMARY_TOKENS)
        else:
            alternative += price(MODEL, uncached=uncached, read=left, w5=w5,
                                 output=u.output_tokens)
    return actual, alternative, len(affected)


def _ingest(otlp, exporter) -> None:  # noqa: F811
    otlp.traces(encode_spans(exporter.get_finished_spans()))
    exporter.clear()


def test_a_tool_result_dragged_along_for_12_calls(store, otlp, client, exporter, emu):  # noqa: F811
    usages = _agent(client, "dragged")
    _ingest(otlp, exporter)
    emu.clock.advance(7200)  # nothing the first agent cached is alive for the second
    fixed = _agent(client, "summarised", replace_at=TOOL_AT + dw.KEEP_CALLS,
                   summary_tokens=dw.SUMMARY_TOKENS)
    _ingest(otlp, exporter)

    finding = only(findings(store, dw.KIND), run_ids=["dragged"])
    actual, alternative, affected = _rule_alternative(usages, BLOCK_TOKENS)
    assert affected == CALLS - TOOL_AT - dw.KEEP_CALLS + 1 == 10
    assert finding["scope"] == "run" and finding["confidence"] == "estimated"
    assert finding["calls"] == affected
    assert finding["cost_usd"] == pytest.approx(actual, rel=1e-9)
    assert finding["savings_usd"] == pytest.approx(actual - alternative, rel=1e-9)
    assert f"the largest {BLOCK_TOKENS} tokens, first sent on turn {TOOL_AT}" in \
        finding["detail"]
    # The rule's alternative is conservative: the agent that really replaced the block
    # by a summary on that call saved at least as much on the emulator's bill (it wrote
    # no summary and read its system prompt from the cache).
    assert 0 < finding["savings_usd"] <= _bill(usages) - _bill(fixed)
    # The agent that summarised the block after using it carries no dead weight.
    assert [f["run_ids"] for f in findings(store, dw.KIND)] == [["dragged"]]

    # tokentrail whatif dead_weight re-prices the run the same way.
    whatif = store.whatif(dw.WHATIF_SCENARIO, START, END, run="dragged")
    assert whatif["calls"] == CALLS
    assert whatif["savings_usd"] == pytest.approx(finding["savings_usd"], rel=1e-9)
    # Narrowed to the finding's model and the calls its rule counts (those that carry
    # the dead block): the finding's own numbers, as the insights page links to them.
    exact = store.whatif(dw.WHATIF_SCENARIO, START, END, run="dragged",
                         only_model=finding["model"], only_candidates=True)
    assert (exact["calls"], exact["runs"]) == (finding["calls"], 1)
    assert exact["cost_usd"] == pytest.approx(finding["cost_usd"], rel=1e-9)
    assert exact["savings_usd"] == pytest.approx(finding["savings_usd"], rel=1e-9)

    # The block is out of the 20-block window on the last call, but not out of view.
    last = store.query("SELECT * FROM llm_calls WHERE run_id = 'dragged' AND turn = "
                       "{turn:UInt32}", {"turn": CALLS})[0]
    block_hash, _ = block_fingerprint(_tool_result("dragged", BLOCK_TOKENS))
    assert last["prefix_block_count"] > 20
    assert block_hash not in last["prefix_block_hashes"]
    # system, then messages 0-3 (task, answer, question, tool call): the result is block 5
    assert [tuple(b.values()) if isinstance(b, dict) else tuple(b)
            for b in last["prefix_large_blocks"]] == [(block_hash, 5, BLOCK_TOKENS)]


def test_no_finding_when_the_block_is_dropped_after_use_or_small(
        store, otlp, client, exporter, emu):  # noqa: F811
    _agent(client, "cleared", replace_at=TOOL_AT + dw.KEEP_CALLS, summary_tokens=20)
    emu.clock.advance(7200)
    # Carried on fewer calls than the rule asks after the two that used it.
    _agent(client, "cleared-late",
           replace_at=TOOL_AT + dw.KEEP_CALLS + dw.MIN_CARRIED_CALLS - 1, summary_tokens=20)
    emu.clock.advance(7200)
    _agent(client, "small", block_tokens=dw.MIN_BLOCK_TOKENS - 1)
    _ingest(otlp, exporter)
    assert store.query("SELECT count() AS n FROM llm_calls")[0]["n"] == 3 * CALLS
    assert findings(store, dw.KIND) == []
    assert store.whatif(dw.WHATIF_SCENARIO, START, END)["savings_usd"] == 0


def _large(attrs: dict) -> list[tuple[str, int, int]]:
    value = attrs.get(sc.PREFIX_LARGE_BLOCKS, "")
    return [(h, int(p), int(t)) for h, p, t in
            (e.split(":") for e in value.split(","))] if value else []


def test_large_blocks_beyond_the_window_truncation_and_the_cap() -> None:
    """Without the network: a prefix of far more than 20 blocks keeps reporting its
    large blocks (positions counted over tools, system and every message), a thread cut
    back before a block forgets it, and at most MAX_LARGE_BLOCKS, the largest, are
    sent, in prefix order."""
    tracker = Tracker(Settings())
    big = {"type": "text", "text": text_of(large_blocks.LARGE_BLOCK_TOKENS, "big")}
    messages: list = [{"role": "user", "content": "task"},
                      {"role": "assistant", "content": "reading"},
                      {"role": "user", "content": [{"type": "text", "text": "a"}, big]}]
    body = {"model": MODEL, "max_tokens": 5, "system": "s", "messages": messages}
    expected = [(block_fingerprint(big)[0], 1 + 3, large_blocks.LARGE_BLOCK_TOKENS)]
    for i in range(30):
        call = tracker.begin(body, None, False)
        assert _large(call.attrs) == expected
        messages += [{"role": "assistant", "content": f"answer {i}"},
                     {"role": "user", "content": f"question {i}"}]
    assert call.attrs["tokentrail.prefix.block_count"] == 63 > 20
    assert expected[0][0] not in call.attrs[sc.PREFIX_BLOCK_HASHES]
    # A thread cut back to its first two messages (threads.extend with fewer shared).
    thread = threads.Thread(Run())
    threads.extend(thread, messages, 0, {})
    assert thread.large.attribute(1, thread.cum_blocks) == "{}:{}:{}".format(*expected[0])
    threads.extend(thread, [*messages[:2], {"role": "user", "content": "other"}], 2, {})
    assert thread.large.entries == []
    threads.extend(thread, messages[:3], 2, {})
    assert thread.large.attribute(1, thread.cum_blocks) == "{}:{}:{}".format(*expected[0])

    tracker = Tracker(Settings())
    sizes = [large_blocks.LARGE_BLOCK_TOKENS + 10 * ((k * 7) % 20) for k in range(20)]
    content = [{"type": "text", "text": text_of(n, f"b{k}")} for k, n in enumerate(sizes)]
    attrs = tracker.begin({"model": MODEL, "max_tokens": 5, "messages": [
        {"role": "user", "content": content}]}, None, False).attrs
    kept = _large(attrs)
    assert len(kept) == large_blocks.MAX_LARGE_BLOCKS
    assert sorted(t for _, _, t in kept) == sorted(sizes)[-large_blocks.MAX_LARGE_BLOCKS:]
    assert [p for _, p, _ in kept] == sorted(p for _, p, _ in kept)  # prefix order
    assert all(sizes[p] == t for _, p, t in kept)
